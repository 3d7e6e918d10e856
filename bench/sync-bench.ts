/**
 * Sync benchmark: a leader and N members (real mpv) on this machine play the bundled playlist;
 * the members' telemetry (and, on PulseAudio, their actual sound) is compared with the timelines
 * the leader issued.
 *
 *   node dist/bench/sync-bench.js [--scenario NAME[,NAME…]|all] [--duration 60] [--quick] [--pulse]
 *
 * Per scenario: start the leader and the members (each member through its own impairing proxy
 * when the scenario has a network, under libfaketime when it has a wrong clock, on a private
 * PulseAudio when it records sound), wait until every member is connected with a clock estimate
 * and checked files, PLAY, SEEK at a third of the run, NEXT (a track change) at two thirds, stop at
 * the end. Every process reads the same CLOCK_MONOTONIC, so a reading's local timestamp is on the
 * leader's clock (for a faked clock: after undoing the known transform, see faketime.ts) and its
 * true error needs no clock estimate (see sync-analysis.ts).
 *
 * Prints one markdown table over all scenarios with pass/fail against the targets, details per
 * scenario, the exact commands; writes JSON to bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { assertAlive, children, cmdline, descendants, killChildrenNow, logTail, shellQuote, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import { sharedMs } from '../src/clock/time.js';
import { monotonicMs } from '../src/clock/monotonic.js';
import type { ControlRequest } from '../src/leader/control-server.js';
import type { LeaderStatus, MemberView } from '../src/leader/leader.js';
import type { Timeline } from '../src/protocol/messages.js';
import { channelLags, deinterleaveS16, lagBetween, type WindowLags } from './audio-spread.js';
import { decodeMono, decodeToRaw } from './reference-audio.js';
import { CLICK_AT_SEC, findClick, mixBlockMs, withClick } from './click-onset.js';
import { encodeWav } from '../src/audio/wav.js';
import { SnapcastRoom } from './snapcast-room.js';
import { onsetErrorMs, scheduleLag, type Scheduled } from './sound-schedule.js';
import { playheadAt } from '../src/protocol/timeline.js';
import { CpuHog } from './cpu-hog.js';
import { fakeEnv, fakeToReal, findLibfaketime, FAKETIME_INSTALL_HINT, measureFakeClock, memberTransform, type FakeClock, type ProcessTransform } from './faketime.js';
import { ImpairProxy, presets, type Impairment, type ImpairProxyStats } from './impair-proxy.js';
import { PulseRoom } from './pulse-room.js';
import { readTelemetry } from './telemetry.js';
import { benchArgs, numberOption, type BenchOptions } from './args.js';
import {
  convergence,
  cpuSeconds,
  grid,
  inSteady,
  mapLocalClock,
  mean,
  peakRssMiB,
  readingNoiseMs,
  shiftSeries,
  windowedSpreads,
  telemetryLagMs,
  median,
  stats,
  trackBoundaries,
  trueErrors,
  type Convergence,
  type Series,
  type Stats,
  type TelemetryLine,
  type Window,
} from './sync-analysis.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------------------------------------
// Targets and scenarios

interface Targets {
  /** inter-member spread after convergence (the 1 s-smoothed telemetry spread and, where recorded, the audio-level spread) */
  spreadP95Ms: number;
  spreadMaxMs: number;
  /** every member within `convergedMs` of the timeline for 1 s, after PLAY, SEEK and NEXT */
  convergeMs: number;
  convergedMs: number;
  /** |clock estimate error| p95 */
  clockErrP95Ms?: number;
  /** steady-state speed within 1 ± this */
  speedWithin?: number;
}

const T_CLEAN: Targets = { spreadP95Ms: 0.1, spreadMaxMs: 0.25, convergeMs: 3000, convergedMs: 0.25, clockErrP95Ms: 0.05 };
const T_WIFI: Targets = { spreadP95Ms: 0.3, spreadMaxMs: 0.6, convergeMs: 5000, convergedMs: 0.6, clockErrP95Ms: 0.25 };
const T_BAD: Targets = { spreadP95Ms: 1, spreadMaxMs: 3, convergeMs: 8000, convergedMs: 3 };
const T_LEGACY: Targets = { spreadP95Ms: 1, spreadMaxMs: 3, convergeMs: 3000, convergedMs: 1 };

interface MemberSetup {
  mpvArgs: string[];
  /** simulated device clock, ppm (--ao-null-speed) */
  driftPpm: number;
  /** FAKETIME spec for this member (and its mpv) */
  faketime?: string;
  /** impairment of this member's path (through its own proxy) */
  impairment?: Impairment;
  /** what its clock estimate is expected to be off by (path asymmetry), ms */
  expectedClockBiasMs?: number;
  note?: string;
}

interface ScenarioDef {
  name: string;
  description: string;
  targets: Targets;
  /** audio on the private PulseAudio (audio-level spread); otherwise --ao=null */
  pulse?: boolean;
  /** can run on PulseAudio with --pulse (no ao=null-only options, no faked clock) */
  pulseCapable: boolean;
  hog?: boolean;
  /** not syncplay: Snapcast's server and clients in the same room, on the same meter */
  snapcast?: boolean;
  /** the leader gets `--start-at` (a wall-clock time ~START_AHEAD_SEC ahead) instead of a PLAY command */
  startAt?: boolean;
  member: (i: number) => MemberSetup;
}

const PRESET_LABEL = (im: Impairment | undefined): string => {
  if (!im) return 'direct';
  const d = (x: Impairment['up']): string => `${x.delayMs}${x.jitterMs ? `±${x.jitterMs}` : ''}${x.stallProbabilityPerSec ? ` stall ${x.stallMs}ms@${x.stallProbabilityPerSec}/s` : ''}`;
  return `up ${d(im.up)} / down ${d(im.down)} ms`;
};

const plain = (impairment?: Impairment): MemberSetup => ({ mpvArgs: [], driftPpm: 0, ...(impairment ? { impairment } : {}) });
const drift = (ppm: number, impairment?: Impairment): MemberSetup => ({
  ...plain(impairment),
  driftPpm: ppm,
  mpvArgs: ppm ? [`--ao-null-speed=${(1 + ppm / 1e6).toFixed(6)}`] : [],
});

const SCENARIOS: ScenarioDef[] = [
  { name: 'clean', description: 'clean LAN: each member through its own proxy, 0.25 ms each way', targets: T_CLEAN, pulseCapable: true, member: () => plain(presets.clean) },
  { name: 'loopback', description: 'clean loopback: each member straight to the leader, no proxy (the proxies of clean add a delay floor that wanders by 0.1–0.16 ms, a different amount each way)', targets: T_CLEAN, pulseCapable: true, member: () => plain() },
  { name: 'wifi', description: 'Wi-Fi-like: 20 ± 10 ms each way, 200 ms stalls ~every 20 s', targets: T_WIFI, pulseCapable: true, member: () => plain(presets.wifi) },
  { name: 'bad', description: 'bad network: 60 ± 40 ms each way, 400 ms stalls ~every 5 s', targets: T_BAD, pulseCapable: true, member: () => plain(presets.bad) },
  {
    name: 'asymmetric',
    description: 'fixed asymmetric paths up/down 5/1, 1/5, 3/3 ms: clock bias (up − down)/2 = +2, −2, 0 ms is invisible to the members; expected spread = half the asymmetry difference = 4 ms',
    targets: T_CLEAN,
    pulseCapable: true,
    member: (i) => {
      const [up, down] = ([[5, 1], [1, 5], [3, 3]] as const)[(i - 1) % 3]!;
      return { ...plain(presets.asymmetric(up, down)), expectedClockBiasMs: (up - down) / 2 };
    },
  },
  {
    name: 'drift200',
    description: 'device drift: m1 +200 ppm, m2 −200 ppm (--ao-null-speed), clean LAN',
    targets: { ...T_CLEAN, speedWithin: 0.005 },
    pulseCapable: false,
    member: (i) => drift(i === 1 ? 200 : i === 2 ? -200 : 0, presets.clean),
  },
  {
    name: 'latency',
    description: 'device latency: m1 8 ms, m2 3 ms (--ao-null-latency; ≥ 10 ms aborts mpv 0.35.1), clean LAN',
    targets: T_CLEAN,
    pulseCapable: false,
    member: (i) => ({ ...plain(presets.clean), mpvArgs: i === 1 ? ['--ao-null-latency=0.008'] : i === 2 ? ['--ao-null-latency=0.003'] : [] }),
  },
  {
    name: 'faketime',
    description: 'wrong clocks: m1 FAKETIME="+7s x1.00005" (+50 ppm), m2 "-10s", under libfaketime (monotonic faked too), clean LAN',
    targets: T_CLEAN,
    pulseCapable: false,
    member: (i) => ({ ...plain(presets.clean), ...(i === 1 ? { faketime: '+7s x1.00005' } : i === 2 ? { faketime: '-10s' } : {}) }),
  },
  { name: 'cpu-hog', description: 'clean LAN with one busy-looping process per core at normal priority', targets: { ...T_CLEAN, spreadP95Ms: 0.25, spreadMaxMs: Infinity, clockErrP95Ms: undefined }, pulseCapable: true, hog: true, member: () => plain(presets.clean) },
  { name: 'audio', description: 'clean LAN on a private PulseAudio (--pulse-latency-hacks=yes), audio-level spread from one recording', targets: T_CLEAN, pulse: true, pulseCapable: true, member: () => plain(presets.clean) },
  { name: 'audio-hog', description: 'as audio, with the CPU hog', targets: { ...T_CLEAN, spreadP95Ms: 0.25, spreadMaxMs: Infinity, clockErrP95Ms: undefined }, pulse: true, pulseCapable: true, hog: true, member: () => plain(presets.clean) },
  {
    name: 'snapcast',
    description: 'Snapcast 0.26 side by side: snapserver (the first track, 1000 ms buffer) and one snapclient per member in the same PulseAudio room, same recorder, same meter',
    targets: T_CLEAN,
    pulse: true,
    pulseCapable: true,
    snapcast: true,
    member: () => plain(),
  },
  {
    name: 'start',
    description: 'a --start-at start: the leader is given a wall-clock time (HH:MM:SS UTC) ~15 s ahead, its schedule announces it 5 s ahead; clean LAN',
    targets: T_CLEAN,
    pulseCapable: true,
    startAt: true,
    member: () => plain(presets.clean),
  },
  { name: 'no-drift', description: 'legacy: direct connections, no proxy', targets: T_LEGACY, pulseCapable: true, member: () => plain() },
  { name: 'drift', description: 'legacy: direct connections, m1 +100 ppm, m2 −100 ppm', targets: T_LEGACY, pulseCapable: false, member: (i) => drift(i === 1 ? 100 : i === 2 ? -100 : 0) },
];

/** `npm run bench`: the scenarios judged by the sound, each repeated (--runs, default 5) */
const DEFAULT_SET = ['clean', 'loopback', 'snapcast', 'wifi', 'bad', 'start'];
/** the telemetry scenarios (mostly --ao=null: simulated device drift, latency, wrong clocks) */
const TELEMETRY_SET = ['asymmetric', 'drift200', 'latency', 'faketime', 'cpu-hog', 'no-drift'];

/** The audio-level headline: windows from this long after PLAY (the targets' "60 s after 8 s from PLAY") */
const SETTLE_SEC = 8;
/** ... without windows from 1 s before to this long after a SEEK or NEXT (the convergence allowance) */
const AFTER_COMMAND_MS = 3000;
/** how far ahead the `start` scenario's wall-clock start time is set */
const START_AHEAD_SEC = 15;
/**
 * PLAY waits (at most this long) until every member has measured its output — the start probe its
 * log reports — as at a party whose speakers were switched on before it starts. A member told to
 * play within ~2 s of joining starts before it knows the output's block grid (README: the sound).
 */
const PROBE_WAIT_MS = 15_000;

const CONVERGED_LEGACY_MS = 1;
/** grid points / readings within this of a command instant or a track boundary are left out of steady-state figures */
const EXCLUDE_MARGIN_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  durationSec: number;
  scenarios: ScenarioDef[];
  members: number;
  seekToSec: number;
  keepTmp: boolean;
  pulseAll: boolean;
  quick: boolean;
  /** exit 0 when every scenario ran, whether or not it met its targets (the CI smoke run) */
  reportOnly: boolean;
  /** repeat every scenario this many times (interleaved: run 1 of each, then run 2 of each…) */
  runs: number;
  /** extra arguments for every member (experiments: e.g. --mpv-arg=…) */
  memberArgs: string[];
  /** keep each run's recording (recording.s16 + recording.json) in its results directory */
  saveAudio: boolean;
}

const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const OPTIONS = {
  scenario: { type: 'string', value: 'a,b,…', help: 'scenarios to run, "telemetry" (' + TELEMETRY_SET.join(',') + ') or "all" (default: ' + DEFAULT_SET.join(',') + ')' },
  duration: { type: 'string', value: 's', help: 'seconds of playback per scenario, from the PLAY instant (default 68: the headline is 60 s from 8 s)' },
  quick: { type: 'boolean', help: 'CI smoke test: scenario "clean" only (unless --scenario), 24 s (≤ 60 s in all)' },
  pulse: { type: 'boolean', help: 'run every scenario that can on the private PulseAudio, recorded (default: when pulseaudio and parec exist)' },
  'no-pulse': { type: 'boolean', help: 'members on --ao=null, nothing recorded' },
  runs: { type: 'string', value: 'n', help: 'repeat each scenario n times, interleaved (default 5; --quick 1)' },
  'member-arg': { type: 'string', multiple: true, value: 'arg', help: 'pass <arg> to every member (repeatable; experiments)' },
  'save-audio': { type: 'boolean', help: "keep each run's recording (s16le, one channel per member) with its results" },
  members: { type: 'string', value: 'n', help: 'members to start (default 3)' },
  'seek-to': { type: 'string', value: 's', help: 'where the SEEK goes (default 5)' },
  drift: { type: 'boolean', help: 'same as --scenario drift (legacy)' },
  'keep-tmp': { type: 'boolean', help: 'keep the temporary directory (sockets, logs, telemetry)' },
  'report-only': { type: 'boolean', help: 'exit 0 when every scenario ran, met its targets or not (smoke test)' },
  list: { type: 'boolean', help: 'list the scenarios' },
} as const satisfies BenchOptions;

function parseArgs(argv: string[]): Options {
  const { values: v } = benchArgs('node dist/bench/sync-bench.js [options]', OPTIONS, { argv });
  if (v.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
    process.exit(0);
  }
  const duration = v.duration === undefined ? null : numberOption('--duration', v.duration, 0);
  const scenario = v.drift ? 'drift' : (v.scenario ?? null);
  const quick = v.quick ?? false;
  const members = Math.round(numberOption('--members', v.members, 3));
  const seekToSec = numberOption('--seek-to', v['seek-to'], 5, 0);
  const keepTmp = v['keep-tmp'] ?? false;
  const pulseAll = v['no-pulse'] ? false : v.pulse ? true : null;
  const reportOnly = v['report-only'] ?? false;
  const runs = v.runs === undefined ? null : Math.round(numberOption('--runs', v.runs, 0));
  const memberArgs = v['member-arg'] ?? [];
  const saveAudio = v['save-audio'] ?? false;
  const names = scenario === 'all' ? SCENARIOS.map((s) => s.name) : scenario === 'telemetry' ? TELEMETRY_SET : scenario ? scenario.split(',').map((s) => s.trim()).filter(Boolean) : quick ? ['clean'] : DEFAULT_SET;
  const scenarios = names.map((n) => {
    const s = SCENARIOS.find((x) => x.name === n);
    if (!s) throw new Error(`unknown scenario "${n}" (${SCENARIOS.map((x) => x.name).join(' | ')} | all)`);
    return s;
  });
  if (members < 2) throw new Error('--members needs at least 2 (spread is between members)');
  const pulse = pulseAll ?? (hasCommand('pulseaudio') && hasCommand('parec'));
  if (!pulse && scenarios.some((s) => s.pulse)) throw new Error(`${scenarios.filter((s) => s.pulse).map((s) => s.name).join(', ')} need PulseAudio (pulseaudio, parec)`);
  if (scenarios.some((s) => s.snapcast) && !(hasCommand('snapserver') && hasCommand('snapclient'))) throw new Error('the snapcast scenario needs snapserver and snapclient (apt install snapserver snapclient)');
  return { durationSec: duration ?? (quick ? 24 : 68), scenarios, members, seekToSec, keepTmp, pulseAll: pulse, quick, reportOnly, runs: runs ?? (quick ? 1 : 5), memberArgs, saveAudio };
}

// ---------------------------------------------------------------------------------------------
// Child processes: ours only, killed by PID, always

/** The variables a scenario adds to the environment (for the printed command). */
const EXTRA_ENV = ['PULSE_SERVER', 'LD_PRELOAD', 'FAKETIME', 'FAKETIME_DONT_FAKE_MONOTONIC'];
function envPrefix(env: NodeJS.ProcessEnv | undefined): string[] {
  if (!env) return [];
  return EXTRA_ENV.filter((k) => env[k] !== undefined && env[k] !== process.env[k]).map((k) => `${k}=${shellQuote(env[k]!)}`);
}

function spawnNode(name: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): Child {
  return spawnChild(name, args, logPath, { cwd: root, ...(env ? { env } : {}), command: [...envPrefix(env), ...['node', ...args].map(shellQuote)].join(' ') });
}

/** Other things a scenario started (proxies, PulseAudio, the CPU hog): stopped after the children. */
const extraStops = new Set<() => Promise<void>>();
/** PIDs of those, for the last-resort SIGKILL on exit */
const extraPids = new Set<() => (number | null)[]>();

async function stopAll(): Promise<void> {
  // members first, then the leader
  const list = [...children].sort((a, b) => Number(a.name === 'leader') - Number(b.name === 'leader'));
  for (const c of list) await stopChild(c);
  for (const stop of [...extraStops]) await stop().catch(() => undefined);
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nsync-bench: ${sig}: stopping the leader and members\n`);
    void stopAll().finally(() => process.exit(130));
  });
}
process.on('exit', () => {
  for (const f of extraPids)
    for (const pid of f()) {
      if (pid === null) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  killChildrenNow();
});

// ---------------------------------------------------------------------------------------------
// Control socket

async function control(request: ControlRequest, socketPath: string): Promise<Record<string, unknown>> {
  return sendControl(request, socketPath, 3000);
}

async function status(socketPath: string): Promise<LeaderStatus> {
  // With the track list: the bench maps readings to the tracks' durations (a summary has none).
  const reply = await control({ cmd: 'status', tracks: true }, socketPath);
  if (!reply.ok) throw new Error(`status failed: ${String(reply.error)}`);
  return reply.status as LeaderStatus;
}

async function waitFor<T>(what: string, timeoutMs: number, watch: readonly Child[], probe: () => Promise<T | null>): Promise<T> {
  const deadline = monotonicMs() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (interrupted) throw new Error('interrupted');
    assertAlive(watch);
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (monotonicMs() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (${lastError})` : ''}`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// One scenario

interface MemberSpec extends MemberSetup {
  name: string;
}

interface Snapshot {
  t: number;
  members: Pick<MemberView, 'name' | 'connected' | 'errorMs' | 'speed' | 'hardSeeks' | 'playerState' | 'clockOffsetMs' | 'rttMs' | 'clockSkewPpm' | 'trackIndex'>[];
}

type CommandKind = 'play' | 'seek' | 'next';

interface Resources {
  /** % of one core over the run (PLAY → end) */
  cpuPct: number | null;
  /** VmHWM at the end, MiB */
  peakRssMiB: number | null;
}

interface MemberResult {
  name: string;
  setup: string;
  driftPpm: number;
  readings: number;
  steadyReadings: number;
  absTrueErrMs: Stats;
  meanTrueErrMs: number | null;
  absTrueErrAllMs: Stats;
  absEstErrMs: Stats;
  meanClockErrMs: number | null;
  absClockErrMs: Stats;
  expectedClockBiasMs: number | null;
  steadySpeedMean: number | null;
  steadySpeedMin: number | null;
  steadySpeedMax: number | null;
  readingNoiseMs: number | null;
  /** true error of the first reading after each command's instant */
  firstErrMs: Record<CommandKind, number | null>;
  convergenceMs: Record<CommandKind, number | null>;
  ipcRttMs: Stats;
  hardSeeks: number | null;
  finalSpeed: number | null;
  playerStates: string[];
  member: Resources;
  mpv: Resources;
  /** audio-level: mean lag of this member's sound behind m1's, ms (steady windows) */
  audioLagVsFirstMs: number | null;
  /** telemetry: mean (m1's true error − this member's), ms, over the same time: what the lag should be */
  telemetryLagVsFirstMs: number | null;
  /** |audio lag − telemetry lag| per window (what mpv's positions do not show), ms */
  audioMinusTelemetryMs: Stats | null;
  fakeClock: (FakeClock & { transform: ProcessTransform }) | null;
  /** the member's clock skew estimate at the end (leader status) and the true one (0 on one machine; 1/rate − 1 under libfaketime), ppm */
  reportedSkewPpm: number | null;
  trueSkewPpm: number;
  proxy: { upP50Ms: number | null; downP50Ms: number | null; upStalls: number; downStalls: number } | null;
}

interface CommandResult {
  kind: CommandKind;
  issuedAt: number;
  timeline: Timeline;
  untilMs: number;
  converged: Convergence;
  convergedLegacy: Convergence;
  perMember: Record<string, number | null>;
}

/** One member-to-member window: spread, and the weakest member's coherence with m1 */
interface HeadlineAudio {
  /** the headline span, s from PLAY */
  fromSec: number;
  toSec: number;
  /** windows in the span (commands and track boundaries left out) and those with an estimate for every member */
  windows: number;
  valid: number;
  spreadMs: Stats;
  /** per window, the lowest coherence of any member with m1: p50, p5, min */
  coherence: { p50: number | null; p5: number | null; min: number | null };
  /** every window of the run: [s from PLAY, lag of m2…mN behind m1 (ms) …] */
  series: (number | null)[][];
}

/** The first second after a command, from the recording */
interface StartResult {
  kind: CommandKind;
  /** member-to-member spread over [instant, instant + 1 s], ms */
  firstSecondSpreadMs: number | null;
  /** each member's sound behind the schedule over [instant + 0.05 s, + 1.05 s], ms */
  scheduleLagMs: (number | null)[];
  /** each member's onset (first sample over −40 dBFS) minus when the schedule has it, ms (PLAY only) */
  onsetMs: (number | null)[];
  /**
   * each member's sound behind the schedule once settled (median over 1-s windows from +4 to +8 s,
   * before the next command), ms: the recorder hears a block when the room's sink mixes it, about one
   * sink latency (~9–10 ms) before PulseAudio reports it played, and members aim at the reported
   * time; the start's own error is the first second's lag minus this
   */
  steadyLagMs: (number | null)[];
}

interface AudioResult {
  windows: number;
  usableWindows: number;
  steadyWindows: number;
  spreadMs: Stats;
  /** windows over the whole run: [s from PLAY, spread ms | null] */
  timeline: [number, number | null][];
  firstSampleMs: number;
  recordedSec: number;
}

/** `start`: when each member's click (the first sample of the first track) was heard, against the wall-clock instant */
interface ClickResult {
  /** the room's mixing block (median chunk the recorder received), ms: played = captured + this */
  blockMs: number | null;
  /** per member: captured − instant and played − instant, ms (null: no click found within ±60 ms) */
  capturedMs: (number | null)[];
  playedMs: (number | null)[];
  /** max − min of the members' click onsets, ms */
  spreadMs: number | null;
}

interface ScenarioResult {
  scenario: string;
  run: number;
  headline: HeadlineAudio | null;
  starts: StartResult[];
  click: ClickResult | null;
  /** `start`: the timeline's instant minus the wall-clock time given to --start-at (mapped to the monotonic clock), ms */
  startAtVsWallMs: number | null;
  description: string;
  targets: Targets;
  durationSec: number;
  onPulse: boolean;
  hog: string | null;
  commands: { leader: string; members: string[] };
  tracks: { title: string; durationSec: number }[];
  timelines: Timeline[];
  boundaries: number[];
  playAt: number;
  endMs: number;
  spreadMs: Stats;
  spreadSmoothedMs: Stats;
  /** spread of the clock-estimate errors alone and of the members' own error estimates alone (1 s-smoothed) */
  budget: { clockSpreadMs: Stats; estSpreadMs: Stats };
  audio: AudioResult | null;
  clockErrMs: Stats;
  ipcRttMs: Stats;
  loadAvg: { start: number[]; end: number[] };
  unmatchedReadings: number;
  commandResults: CommandResult[];
  members: MemberResult[];
  leader: Resources;
  bench: Resources;
  checks: { name: string; ok: boolean; detail: string }[];
  pass: boolean;
  memberDeaths: string[];
  orphansKilled: number[];
  uncleanStops: string[];
  snapshots: Snapshot[];
  wallSec: number;
}

const readText = (p: string): string => readFileSync(p, 'utf8');

function mpvPidOf(memberPid: number): number | null {
  for (const pid of descendants(memberPid)) if (/(^|\/)mpv /.test(cmdline(pid) ?? '')) return pid;
  return null;
}

/** CPU seconds of the listed processes now (null entries for gone ones) */
function cpuNow(pids: (number | null)[]): (number | null)[] {
  return pids.map((p) => (p === null ? null : p === process.pid ? process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 : cpuSeconds(p, readText)));
}

function resources(pid: number | null, cpuStart: number | null, cpuEnd: number | null, wallSec: number): Resources {
  return {
    cpuPct: cpuStart !== null && cpuEnd !== null && wallSec > 0 ? (100 * (cpuEnd - cpuStart)) / wallSec : null,
    peakRssMiB: pid === null ? null : peakRssMiB(pid, readText),
  };
}

type Rec = Awaited<ReturnType<PulseRoom['stopRecording']>>;

/** The recording as s16le interleaved PCM plus what is needed to read it (timebase, timelines). */
function saveRecording(dir: string, rec: Rec, extra: Record<string, unknown>): void {
  const n = rec.channels.length;
  const frames = rec.channels[0]!.length;
  const buf = Buffer.alloc(frames * n * 2);
  for (let i = 0; i < frames; i++) for (let c = 0; c < n; c++) buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(rec.channels[c]![i]! * 32768))), 2 * (i * n + c));
  writeFileSync(join(dir, 'recording.s16'), buf);
  writeFileSync(join(dir, 'recording.json'), JSON.stringify({ sampleRate: rec.sampleRate, channels: n, firstSampleMs: rec.firstSampleMs, chunks: rec.chunks, arrivals: rec.arrivals, ...extra }) + '\n');
}

/** Decoded tracks, shared by every run of this process. */
let refDir: string | null = null;
function referenceDir(): string {
  if (!refDir) {
    refDir = mkdtempSync(join(tmpdir(), 'syncplay-bench-ref-'));
    const dir = refDir;
    extraStops.add(async () => rmSync(dir, { recursive: true, force: true }));
  }
  return refDir;
}

/**
 * A music dir for the `start` scenario: the bundled playlist with its first track replaced by a
 * copy that begins with a click (bench/click-onset.ts). Made once per process, next to the
 * decoded references (it outlives each run's temporary directory: the analysis decodes from it).
 */
function clickMusicDir(): string {
  const dir = join(referenceDir(), 'click-music');
  if (existsSync(join(dir, 'start.m3u8'))) return dir;
  const src = join(root, 'playlists');
  const entries = readFileSync(join(src, 'example.m3u8'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const first = entries[0]!;
  const clickName = `${first.replace(/\.[^.]+$/, '')}-click.wav`;
  const built = join(referenceDir(), clickName);
  if (!existsSync(built)) {
    const rate = 44_100;
    const pcm = join(referenceDir(), `click-source-${rate}-stereo.raw`);
    decodeToRaw(join(src, first), pcm, { sampleRate: rate, channels: 2 });
    writeFileSync(built, encodeWav(withClick(deinterleaveS16(readFileSync(pcm), 2), rate), rate));
  }
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, clickName));
  for (const e of entries.slice(1)) copyFileSync(join(src, e), join(dir, e));
  writeFileSync(join(dir, 'start.m3u8'), ['#EXTM3U', clickName, ...entries.slice(1), ''].join('\n'));
  return dir;
}

/**
 * The audio-level headline of a recording: 1 s windows (hop 0.5 s) whose centre lies in
 * [PLAY + SETTLE_SEC, end − 0.5 s] and passes `keep`; spread over those with an estimate for
 * every member; coherence per window = the lowest of any member with m1.
 */
function headlineAudio(rec: { channels: Float32Array[]; sampleRate: number; firstSampleMs: number }, playAt: number, endMs: number, keep: (t: number) => boolean): HeadlineAudio {
  const lags = channelLags(rec.channels, { sampleRate: rec.sampleRate, windowSec: 1, hopSec: 0.5, maxLagMs: 20 });
  const at = (w: WindowLags): number => rec.firstSampleMs + w.tSec * 1000;
  const fromMs = playAt + SETTLE_SEC * 1000;
  const span = lags.filter((w) => at(w) >= fromMs && at(w) <= endMs - 500 && keep(at(w)));
  const valid = span.filter((w) => w.spreadMs !== null);
  const coh = valid.map((w) => Math.min(...w.coherence.map((c) => c ?? 0))).sort((a, b) => a - b);
  return {
    fromSec: SETTLE_SEC,
    toSec: (endMs - playAt) / 1000,
    windows: span.length,
    valid: valid.length,
    spreadMs: stats(valid.map((w) => w.spreadMs!)),
    coherence: { p50: coh.length ? coh[Math.floor(coh.length / 2)]! : null, p5: coh.length ? coh[Math.floor(0.05 * (coh.length - 1))]! : null, min: coh.length ? coh[0]! : null },
    series: lags.filter((w) => at(w) >= playAt - 1000 && at(w) <= endMs).map((w) => [Number(((at(w) - playAt) / 1000).toFixed(2)), ...w.lagMs.slice(1).map((l) => (l === null ? null : Number(l.toFixed(4))))]),
  };
}

async function runScenario(def: ScenarioDef, opts: Options, resultsDir: string, run: number): Promise<ScenarioResult> {
  const scenario = def.name;
  const runDir = opts.runs > 1 ? `${scenario}-${run}` : scenario;
  let wallStartMono: number | null = null;
  const wallStart = monotonicMs();
  const loadStart = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-bench-'));
  const sock = join(tmp, 'leader.sock');
  const onPulse = def.pulse === true || (opts.pulseAll && def.pulseCapable);
  const specs: MemberSpec[] = Array.from({ length: opts.members }, (_, k) => ({ name: `m${k + 1}`, ...def.member(k + 1) }));
  const names = specs.map((s) => s.name);
  const durationMs = opts.durationSec * 1000;
  const log = (m: string): void => void process.stderr.write(`[${scenario}] ${m}\n`);
  let musicDir = join(root, 'playlists');

  const members: Child[] = [];
  const memberDeaths: string[] = [];
  const orphansKilled: number[] = [];
  const uncleanStops: string[] = [];
  const snapshots: Snapshot[] = [];
  const timelines = new Map<string, Timeline>();
  const proxies = new Map<string, ImpairProxy>();
  const proxyStats = new Map<string, ImpairProxyStats>();
  const fakeClocks = new Map<string, FakeClock & { transform: ProcessTransform }>();
  let tracks: LeaderStatus['tracks'] = [];
  const cmdTl: Partial<Record<CommandKind, { tl: Timeline; issuedAt: number }>> = {};
  let finalStatus: LeaderStatus | null = null;
  let room: PulseRoom | null = null;
  let hog: CpuHog | null = null;
  let recording: Awaited<ReturnType<PulseRoom['stopRecording']>> | null = null;
  let leader: Child | null = null;
  let cpuStart: (number | null)[] = [];
  let cpuEnd: (number | null)[] = [];
  let pidList: (number | null)[] = [];
  let rss: Resources[] = [];
  let cpuWindow = { from: 0, to: 0 };

  const record = (st: LeaderStatus): void => {
    snapshots.push({
      t: st.now,
      members: st.members.map((m) => ({ name: m.name, connected: m.connected, errorMs: m.errorMs, speed: m.speed, hardSeeks: m.hardSeeks, playerState: m.playerState, clockOffsetMs: m.clockOffsetMs, rttMs: m.rttMs, clockSkewPpm: m.clockSkewPpm, trackIndex: m.trackIndex })),
    });
  };
  const stopRoom = async (): Promise<void> => {
    if (room) await room.stop();
  };
  const stopHog = async (): Promise<void> => {
    if (hog) await hog.stop();
  };
  const roomPids = (): (number | null)[] => [room?.pid ?? null];
  const hogPids = (): (number | null)[] => hog?.pids ?? [];

  try {
    if (specs.some((s) => s.faketime) && !findLibfaketime()) throw new Error(FAKETIME_INSTALL_HINT);
    if (def.startAt) musicDir = clickMusicDir();
    if (onPulse) {
      // The same room for every scenario: the recorder's fragment sets the sink's mixing block
      // (1 ms fragments made it mix in ~1 ms blocks), and the members must start on the output they have.
      room = new PulseRoom({ dir: join(tmp, 'pulse'), members: names });
      extraStops.add(stopRoom);
      extraPids.add(roomPids);
      await room.start();
      await room.startRecording();
      log(`PulseAudio pid ${room.pid} at ${room.socket}; recording room.monitor (${names.length} channels)`);
    }

    const leaderArgs = ['bin/syncplay', 'leader', '--music-dir', musicDir, '--host', '127.0.0.1', '--port', '0', '--socket', sock, '--no-ui', '--no-web', '--open', '--no-advertise', '--state-dir', join(tmp, 'leader-state')];
    if (def.startAt) {
      // a whole second, START_AHEAD_SEC or more from now, as HH:MM:SS in UTC
      const wall = Math.ceil((Date.now() + START_AHEAD_SEC * 1000) / 1000) * 1000;
      leaderArgs.push('--start-at', new Date(wall).toISOString().slice(11, 19), '--tz', 'UTC');
      // the same instant on the monotonic clock every process here reads
      wallStartMono = wall - (Date.now() - monotonicMs());
    }
    leader = spawnNode('leader', leaderArgs, join(tmp, 'leader.log'));
    // The leader listens at once and scans in the background: wait for its playlist.
    const st0 = await waitFor('the leader control socket and its playlist', 20_000, [leader], async () => {
      if (!existsSync(sock)) return null;
      const st = await status(sock);
      return st.tracks && st.tracks.length > 0 ? st : null;
    });
    tracks = st0.tracks;
    timelines.set(JSON.stringify(st0.timeline), st0.timeline);
    const port = st0.listening.port;
    log(`leader pid ${leader.pid} on 127.0.0.1:${port}; ${tracks.length} tracks (${tracks.map((t) => t.durationSec.toFixed(1)).join(' + ')} s)`);

    if (def.hog) {
      hog = new CpuHog();
      extraStops.add(stopHog);
      extraPids.add(hogPids);
      hog.start();
      log(`CPU hog: ${hog.describe()}, pids ${hog.pids.join(', ')}`);
    }

    for (const [k, s] of specs.entries()) {
      let memberPort = port;
      if (s.impairment) {
        const proxy = new ImpairProxy({ targetHost: '127.0.0.1', targetPort: port, up: s.impairment.up, down: s.impairment.down, seed: 1000 * (k + 1) + 7 });
        memberPort = await proxy.start();
        proxies.set(s.name, proxy);
      }
      let env: NodeJS.ProcessEnv | undefined = room ? room.env() : undefined;
      if (s.faketime) {
        const clock = await measureFakeClock({ faketime: s.faketime });
        env = { ...(env ?? process.env), ...fakeEnv({ faketime: s.faketime }) };
        fakeClocks.set(s.name, { ...clock, transform: memberTransform(clock, 0) });
        log(`${s.name}: FAKETIME="${s.faketime}": fake − real = ${clock.offsetMs.toFixed(3)} ms at start, rate ${clock.specRate} (probe measured ${((clock.rate - 1) * 1e6).toFixed(1)} ppm), probe min rtt ${clock.minRttMs.toFixed(3)} ms, residual ${(clock.residualMs * 1000).toFixed(1)} µs`);
      }
      // On PulseAudio: only the device, as a user would give it; the member picks its options.
      const audioArgs = room ? ['--audio-device', room.deviceFor(s.name)] : ['--mpv-arg=--ao=null'];
      const args = ['bin/syncplay', 'member', '--ip', '127.0.0.1', '--port', String(memberPort), '--music-dir', musicDir, '--name', s.name, '--state-dir', join(tmp, `${s.name}-state`), ...audioArgs, ...s.mpvArgs.map((a) => `--mpv-arg=${a}`), ...opts.memberArgs, '--telemetry', join(tmp, `${s.name}.jsonl`)];
      const spawnedAt = monotonicMs();
      members.push(spawnNode(s.name, args, join(tmp, `${s.name}.log`), env));
      const fc = fakeClocks.get(s.name);
      if (fc) fc.transform = memberTransform(fc, spawnedAt);
    }
    log(`members ${members.map((m) => `${m.name} pid ${m.pid}`).join(', ')}${proxies.size ? ` through proxies on ports ${[...proxies.entries()].map(([n, p]) => `${n}:${p.port}`).join(', ')}` : ''}; waiting for their clocks and files`);

    await waitFor('every member connected with a clock estimate and checked files', 90_000, [leader, ...members], async () => {
      const st = await status(sock);
      const ready = st.members.filter((m) => names.includes(m.name) && m.connected && m.rttMs !== null && m.fileStatus === 'ok');
      return ready.length === names.length ? st : null;
    });
    if (!def.startAt) {
      const probeWaitFrom = monotonicMs();
      const probed = (n: string): boolean => existsSync(join(tmp, `${n}.log`)) && readText(join(tmp, `${n}.log`)).includes('output start latency');
      while (monotonicMs() - probeWaitFrom < PROBE_WAIT_MS && !names.every(probed)) {
        assertAlive([leader, ...members]);
        await sleep(200);
      }
      const unprobed = names.filter((n) => !probed(n));
      log(`${unprobed.length ? `not every member measured its output within ${PROBE_WAIT_MS / 1000} s (${unprobed.join(', ')})` : 'every member measured its output'} (waited ${((monotonicMs() - probeWaitFrom) / 1000).toFixed(1)} s after they joined)`);
    }
    for (const p of proxies.values()) p.resetStats();

    const issue = async (kind: CommandKind, request: ControlRequest): Promise<void> => {
      const issuedAt = monotonicMs();
      const reply = await control(request, sock);
      if (!reply.ok) throw new Error(`${kind} failed: ${String(reply.error)}`);
      const tl = reply.timeline as Timeline;
      cmdTl[kind] = { tl, issuedAt };
      timelines.set(JSON.stringify(tl), tl);
      log(`${kind.toUpperCase()} → timeline #${tl.seq} at +${(tl.at - issuedAt).toFixed(0)} ms`);
    };

    // resources are measured from PLAY to the end
    pidList = [leader.pid, ...members.map((m) => m.pid), ...members.map((m) => mpvPidOf(m.pid)), process.pid];
    cpuStart = cpuNow(pidList);
    cpuWindow.from = monotonicMs();
    if (def.startAt) {
      // no command: the leader's schedule starts the playlist at the wall-clock time
      const before = JSON.stringify(st0.timeline);
      const st = await waitFor('the scheduled start to be announced', (START_AHEAD_SEC + 10) * 1000, [leader, ...members], async () => {
        const v = await status(sock);
        return v.timeline.state === 'playing' && JSON.stringify(v.timeline) !== before ? v : null;
      });
      cmdTl.play = { tl: st.timeline, issuedAt: monotonicMs() };
      timelines.set(JSON.stringify(st.timeline), st.timeline);
      log(`scheduled start → timeline #${st.timeline.seq} at +${(st.timeline.at - monotonicMs()).toFixed(0)} ms (wall-clock instant ${wallStartMono !== null ? `${(st.timeline.at - wallStartMono).toFixed(3)} ms away` : '?'})`);
    } else await issue('play', { cmd: 'play' });
    const playAt = cmdTl.play!.tl.at;
    const endMs = playAt + durationMs;
    const plan: [CommandKind, ControlRequest, number][] = [
      ['seek', { cmd: 'seek', seconds: opts.seekToSec, relative: false }, playAt + durationMs / 3],
      ['next', { cmd: 'next' }, playAt + (2 * durationMs) / 3],
    ];
    const dead = new Set<string>();
    while (monotonicMs() < endMs) {
      if (interrupted) throw new Error('interrupted');
      assertAlive([leader]);
      for (const m of members) {
        if (m.exited && !dead.has(m.name)) {
          dead.add(m.name);
          memberDeaths.push(`${m.name} exited at +${((monotonicMs() - playAt) / 1000).toFixed(1)} s (code ${m.exitCode ?? '—'}, signal ${m.exitSignal ?? '—'})`);
          log(`member ${m.name} died:\n${logTail(m)}`);
        }
      }
      const due = plan.find(([kind, , at]) => !cmdTl[kind] && monotonicMs() >= at);
      if (due) await issue(due[0], due[1]);
      try {
        record(await status(sock));
      } catch (e) {
        log(`status: ${(e as Error).message}`);
      }
      const nextAt = plan.find(([kind]) => !cmdTl[kind])?.[2] ?? endMs;
      await sleep(Math.min(500, Math.min(endMs, nextAt) - monotonicMs()));
    }
    finalStatus = await status(sock);
    record(finalStatus);
    // the member's mpv may have been restarted: take the one running now for RSS, CPU over both if same
    const mpvNow = members.map((m) => mpvPidOf(m.pid));
    cpuEnd = cpuNow(pidList.map((p, i) => (i > members.length && i <= 2 * members.length && mpvNow[i - members.length - 1] !== p ? null : p)));
    cpuWindow.to = monotonicMs();
    rss = pidList.map((p) => resources(p, null, null, 0));
  } finally {
    for (const m of members) {
      const r = await stopChild(m);
      if (!r.clean) uncleanStops.push(m.name);
      orphansKilled.push(...r.orphans);
    }
    if (leader) {
      const r = await stopChild(leader);
      if (!r.clean) uncleanStops.push('leader');
      orphansKilled.push(...r.orphans);
    }
    for (const [n, p] of proxies) {
      proxyStats.set(n, p.stats());
      await p.stop();
    }
    if (hog) await hog.stop();
    extraStops.delete(stopHog);
    extraPids.delete(hogPids);
    if (room) {
      try {
        recording = await room.stopRecording();
      } catch (e) {
        log(`recording: ${(e as Error).message}`);
      }
      await room.stop();
    }
    extraStops.delete(stopRoom);
    extraPids.delete(roomPids);
    const keep = join(resultsDir, runDir);
    mkdirSync(keep, { recursive: true });
    for (const f of readdirSync(tmp)) if (f.endsWith('.log') || f.endsWith('.jsonl')) copyFileSync(join(tmp, f), join(keep, f));
    if (room && existsSync(join(tmp, 'pulse', 'pulseaudio.log'))) copyFileSync(join(tmp, 'pulse', 'pulseaudio.log'), join(keep, 'pulseaudio.log'));
    if (!opts.keepTmp) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
  const play = cmdTl.play;
  const seek = cmdTl.seek;
  const next = cmdTl.next;
  if (!play || !seek || !next || !finalStatus || !leader) throw new Error('the run did not complete');

  // ----- analysis
  const raw = specs.flatMap((s) => readTelemetry(join(resultsDir, runDir, `${s.name}.jsonl`)));
  const lines = mapLocalClock(raw, (m) => {
    const fc = fakeClocks.get(m);
    return fc ? (t: number) => fakeToReal(fc.transform, t) : null;
  });
  const tls = [...timelines.values()].sort((a, b) => a.seq - b.seq || a.at - b.at);
  const { series, unmatched } = trueErrors(lines, tls, tracks);
  const playAt = play.tl.at;
  const endMs = playAt + durationMs;
  const boundaries = trackBoundaries(tls, tracks, endMs);
  const bias = (m: string): number => specs.find((s) => s.name === m)?.expectedClockBiasMs ?? 0;
  // Convergence is judged against where each member is expected to settle (its path's clock bias, if known).
  const convSeries: Series = shiftSeries(series, bias);

  const order: [CommandKind, { tl: Timeline; issuedAt: number }, number][] = [
    ['play', play, seek.tl.at],
    ['seek', seek, next.tl.at],
    ['next', next, endMs],
  ];
  const commandResults: CommandResult[] = order.map(([kind, c, until]) => {
    const perMember: Record<string, number | null> = {};
    for (const n of names) perMember[n] = convergence(convSeries, [n], c.tl.at, until, def.targets.convergedMs).ms;
    return {
      kind,
      issuedAt: c.issuedAt,
      timeline: c.tl,
      untilMs: until,
      converged: convergence(convSeries, names, c.tl.at, until, def.targets.convergedMs),
      convergedLegacy: convergence(convSeries, names, c.tl.at, until, CONVERGED_LEGACY_MS),
      perMember,
    };
  });
  // Steady state: from convergence (or, failing that, the convergence target) to the next command.
  const windows: Window[] = commandResults.map((c) => ({ from: c.timeline.at + (c.converged.ms ?? def.targets.convergeMs), to: c.untilMs }));
  const excluded = [...commandResults.map((c) => c.timeline.at), ...boundaries];
  const steady = (t: number): boolean => inSteady(t, windows, excluded, EXCLUDE_MARGIN_MS);

  const points = grid(series, names, playAt, endMs).filter((p) => steady(p.t));
  const spreads = points.map((p) => Math.max(...p.errs) - Math.min(...p.errs));

  // ----- audio level
  let audio: AudioResult | null = null;
  const audioLag = new Map<string, number | null>();
  const telemetryLag = new Map<string, number | null>();
  const audioVsTelemetry = new Map<string, Stats>();
  if (recording && recording.channels[0]!.length > recording.sampleRate * 2) {
    const rec = recording;
    const lags: WindowLags[] = channelLags(rec.channels, { sampleRate: rec.sampleRate, windowSec: 1, hopSec: 0.5, maxLagMs: 20 });
    const at = (w: WindowLags): number => rec.firstSampleMs + w.tSec * 1000;
    const inRun = lags.filter((w) => at(w) >= playAt && at(w) < endMs);
    const st = inRun.filter((w) => steady(at(w)) && steady(at(w) - 500) && steady(at(w) + 500));
    const usable = st.filter((w) => w.spreadMs !== null);
    audio = {
      windows: inRun.length,
      usableWindows: inRun.filter((w) => w.spreadMs !== null).length,
      steadyWindows: st.length,
      spreadMs: stats(usable.map((w) => w.spreadMs!)),
      timeline: inRun.map((w) => [Number(((at(w) - playAt) / 1000).toFixed(2)), w.spreadMs === null ? null : Number(w.spreadMs.toFixed(4))]),
      firstSampleMs: rec.firstSampleMs,
      recordedSec: rec.channels[0]!.length / rec.sampleRate,
    };
    // per member: the sound's lag behind m1 vs what the telemetry says it should be (m1's mean true
    // error − this member's over the same 1 s window), window by window
    names.forEach((n, i) => {
      const aw: number[] = [];
      const tw: number[] = [];
      for (const w of usable) {
        const expected = telemetryLagMs(series, names[0]!, n, at(w));
        if (expected === null) continue;
        aw.push(w.lagMs[i]!);
        tw.push(expected);
      }
      audioLag.set(n, median(aw));
      telemetryLag.set(n, median(tw));
      audioVsTelemetry.set(n, stats(aw.map((a, k) => Math.abs(a - tw[k]!))));
    });
  }

  // ----- audio level: the headline, and the first second after each command
  let headline: HeadlineAudio | null = null;
  const starts: StartResult[] = [];
  if (recording && recording.channels[0]!.length > recording.sampleRate * 2) {
    const rec = recording;
    const spans = commandResults.slice(1).map((c) => c.timeline.at);
    headline = headlineAudio(rec, playAt, endMs, (t) => !boundaries.some((b) => Math.abs(t - b) < 1000) && !spans.some((c) => t > c - 1000 && t < c + AFTER_COMMAND_MS));
    const refs = tracks.map((tr, k) => {
      try {
        return decodeMono(join(musicDir, tr.path), join(referenceDir(), `track-${k}-${tr.path.replace(/[^\w.-]/g, '_')}-${rec.sampleRate}-mono.raw`), rec.sampleRate);
      } catch (e) {
        log(`reference: ${(e as Error).message}`);
        return null;
      }
    });
    const expected = (t: number): Scheduled | null => {
      const tl = [...timelines.values()].filter((x) => x.at <= t).sort((a, b) => b.seq - a.seq || b.at - a.at)[0];
      if (!tl) return null;
      const here = playheadAt(tl, tracks, sharedMs(t));
      return here.state === 'playing' ? { trackIndex: here.trackIndex, positionSec: here.positionSec } : null;
    };
    const instants = commandResults.map((c) => c.timeline.at);
    for (const c of commandResults) {
      const at = c.timeline.at;
      const nextAt = Math.min(endMs, ...instants.filter((x) => x > at));
      const chans = rec.channels.map((ch) => ({ samples: ch, sampleRate: rec.sampleRate, firstSampleMs: rec.firstSampleMs }));
      const k0 = Math.round(((at - rec.firstSampleMs) / 1000) * rec.sampleRate);
      const n = rec.sampleRate;
      let firstSecondSpreadMs: number | null = null;
      if (k0 >= 0 && k0 + n <= rec.channels[0]!.length) {
        const lags = rec.channels.map((ch, i) => (i === 0 ? 0 : lagBetween(rec.channels[0]!.subarray(k0, k0 + n), ch.subarray(k0, k0 + n), { sampleRate: rec.sampleRate, maxLagMs: 20 }).lagMs));
        if (lags.every((v) => v !== null)) firstSecondSpreadMs = Math.max(...(lags as number[])) - Math.min(...(lags as number[]));
      }
      const start = expected(at + 1);
      starts.push({
        kind: c.kind,
        firstSecondSpreadMs,
        scheduleLagMs: chans.map((ch) => scheduleLag(ch, refs, expected, at + 50).lagMs),
        onsetMs: c.kind === 'play' && start ? chans.map((ch) => (refs[start.trackIndex] ? onsetErrorMs(ch, refs[start.trackIndex]!, start, at) : null)) : [],
        steadyLagMs: chans.map((ch) => median([4000, 5000, 6000, 7000].filter((d) => at + d + 1000 < nextAt - 1000 && !boundaries.some((b) => Math.abs(at + d + 500 - b) < 1500)).map((d) => scheduleLag(ch, refs, expected, at + d).lagMs).filter((v): v is number => v !== null))),
      });
    }
  }

  // ----- start: when each member's click was heard, against the wall-clock instant
  let click: ClickResult | null = null;
  if (def.startAt && recording && wallStartMono !== null) {
    const rec = recording;
    // the click is CLICK_AT_SEC into the first track: due that long after the wall-clock instant
    const instant = wallStartMono + CLICK_AT_SEC * 1000;
    const blockMs = mixBlockMs(rec.arrivals, rec.sampleRate);
    // captured ≈ played − block: search ±60 ms around the instant on the played time
    const found = rec.channels.map((ch) => findClick(ch, rec.arrivals, rec.sampleRate, instant - (blockMs ?? 0) - 60, instant - (blockMs ?? 0) + 60));
    const played = found.map((c) => (c ? c.playedMs - instant : null));
    const heard = played.filter((v): v is number => v !== null);
    click = { blockMs, capturedMs: found.map((c) => (c ? c.capturedMs - instant : null)), playedMs: played, spreadMs: heard.length && heard.length === found.length ? Math.max(...heard) - Math.min(...heard) : null };
    log(`click heard ${played.map((v) => f(v, 2)).join(', ')} ms after it was due (wall-clock instant + ${CLICK_AT_SEC * 1000} ms) (played; the room mixes ${f(blockMs, 2)} ms blocks); members ${f(click.spreadMs)} ms apart`);
  }

  if (recording && opts.saveAudio) saveRecording(join(resultsDir, runDir), recording, { playAt, endMs, timelines: tls, tracks, wallStartMono });

  const wallRun = (cpuWindow.to - cpuWindow.from) / 1000;
  const res = (i: number): Resources => ({ cpuPct: resources(null, cpuStart[i] ?? null, cpuEnd[i] ?? null, wallRun).cpuPct, peakRssMiB: rss[i]?.peakRssMiB ?? null });
  const n = specs.length;

  const memberResults: MemberResult[] = specs.map((s, i) => {
    const all = (series.get(s.name) ?? []).filter((r) => r.t >= playAt && r.t < endMs);
    const st = all.filter((r) => steady(r.t));
    const view = finalStatus!.members.find((m) => m.name === s.name);
    const states = [...new Set(snapshots.flatMap((sn) => sn.members.filter((m) => m.name === s.name).map((m) => m.playerState)))];
    const ps = proxyStats.get(s.name);
    const first = (c: { tl: Timeline }): number | null => all.find((r) => r.t >= c.tl.at)?.trueErrMs ?? null;
    const setup = [
      s.impairment ? PRESET_LABEL(s.impairment) : 'direct',
      s.driftPpm ? `${s.driftPpm > 0 ? '+' : ''}${s.driftPpm} ppm` : '',
      s.faketime ? `FAKETIME="${s.faketime}"` : '',
      ...s.mpvArgs.filter((a) => a.includes('latency')),
    ]
      .filter(Boolean)
      .join(', ');
    return {
      name: s.name,
      setup,
      driftPpm: s.driftPpm,
      readings: all.length,
      steadyReadings: st.length,
      absTrueErrMs: stats(st.map((r) => Math.abs(r.trueErrMs))),
      meanTrueErrMs: mean(st.map((r) => r.trueErrMs)),
      absTrueErrAllMs: stats(all.map((r) => Math.abs(r.trueErrMs))),
      absEstErrMs: stats(st.map((r) => Math.abs(r.estErrMs))),
      meanClockErrMs: mean(st.map((r) => r.clockErrMs)),
      absClockErrMs: stats(st.map((r) => Math.abs(r.clockErrMs - (s.expectedClockBiasMs ?? 0)))),
      expectedClockBiasMs: s.expectedClockBiasMs ?? null,
      steadySpeedMean: mean(st.map((r) => r.speed)),
      steadySpeedMin: st.length ? Math.min(...st.map((r) => r.speed)) : null,
      steadySpeedMax: st.length ? Math.max(...st.map((r) => r.speed)) : null,
      readingNoiseMs: readingNoiseMs(all, steady),
      firstErrMs: { play: first(play), seek: first(seek), next: first(next) },
      convergenceMs: { play: commandResults[0]!.perMember[s.name] ?? null, seek: commandResults[1]!.perMember[s.name] ?? null, next: commandResults[2]!.perMember[s.name] ?? null },
      ipcRttMs: stats(all.map((r) => r.ipcRttMs)),
      hardSeeks: view?.hardSeeks ?? null,
      finalSpeed: view?.speed ?? null,
      playerStates: states,
      member: res(1 + i),
      mpv: res(1 + n + i),
      audioLagVsFirstMs: audioLag.get(s.name) ?? null,
      telemetryLagVsFirstMs: telemetryLag.get(s.name) ?? null,
      audioMinusTelemetryMs: audioVsTelemetry.get(s.name) ?? null,
      fakeClock: fakeClocks.get(s.name) ?? null,
      reportedSkewPpm: view?.clockSkewPpm ?? null,
      trueSkewPpm: fakeClocks.has(s.name) ? (1 / fakeClocks.get(s.name)!.specRate - 1) * 1e6 : 0,
      proxy: ps ? { upP50Ms: ps.up.delayMs.p50, downP50Ms: ps.down.delayMs.p50, upStalls: ps.up.stalls, downStalls: ps.down.stalls } : null,
    };
  });

  // clock estimate error: every steady reading of every member, against the truth (minus a known path bias)
  const clockErrMs = stats(
    specs.flatMap((s) =>
      (series.get(s.name) ?? [])
        .filter((r) => r.t >= playAt && r.t < endMs && steady(r.t))
        .map((r) => Math.abs(r.clockErrMs - (s.expectedClockBiasMs ?? 0))),
    ),
  );
  const spreadMs = stats(spreads);
  // 1 s-smoothed: every 100 ms of steady state, each member's readings within ±0.5 s averaged (≥ 3 each)
  const steadyTimes: number[] = [];
  for (let tt: number = playAt; tt < endMs; tt += 100) if (steady(tt) && steady(tt - 500) && steady(tt + 500)) steadyTimes.push(tt);
  const spreadSmoothedMs = stats(windowedSpreads(series, names, steadyTimes));
  // Error budget: true error = the member's own error estimate (what its controller leaves, plus
  // reading noise) + its clock estimate's error. The spread of each part alone, 1 s-smoothed:
  const part = (k: 'clockErrMs' | 'estErrMs'): Series =>
    new Map([...series].map(([m, l]) => [m, l.map((r) => ({ ...r, trueErrMs: k === 'clockErrMs' ? r.clockErrMs - bias(m) : r.estErrMs }))]));
  const budget = {
    clockSpreadMs: stats(windowedSpreads(part('clockErrMs'), names, steadyTimes)),
    estSpreadMs: stats(windowedSpreads(part('estErrMs'), names, steadyTimes)),
  };

  // ----- checks against the targets
  const t = def.targets;
  const checks: ScenarioResult['checks'] = [];
  const asym = specs.some((s) => s.expectedClockBiasMs !== undefined && s.expectedClockBiasMs !== 0);
  if (asym) {
    const biases = specs.map((s) => s.expectedClockBiasMs ?? 0);
    const expected = Math.max(...biases) - Math.min(...biases);
    const means = memberResults.map((m) => m.meanTrueErrMs ?? NaN);
    const measured = Math.max(...means) - Math.min(...means);
    checks.push({ name: 'spread = half the asymmetry difference', ok: Math.abs(measured - expected) <= 0.25, detail: `mean errors ${means.map((v) => v.toFixed(3)).join(' / ')} ms → spread ${measured.toFixed(3)} ms, expected ${expected.toFixed(3)} ms (±0.25)` });
    const devs = memberResults.map((m, i) => (m.meanTrueErrMs ?? NaN) - biases[i]!);
    checks.push({ name: 'each member off by its path bias (up − down)/2', ok: devs.every((d) => Math.abs(d) <= 0.25), detail: devs.map((d, i) => `${names[i]} ${d >= 0 ? '+' : ''}${d.toFixed(3)} ms from ${biases[i]}`).join(', ') });
  } else {
    const sp = spreadSmoothedMs;
    checks.push({ name: `spread (telemetry, 1 s smoothed) p95 ≤ ${t.spreadP95Ms}${Number.isFinite(t.spreadMaxMs) ? `, max ≤ ${t.spreadMaxMs}` : ''} ms`, ok: sp.p95 !== null && sp.p95 <= t.spreadP95Ms && (sp.max ?? Infinity) <= t.spreadMaxMs, detail: `p95 ${f(sp.p95)} max ${f(sp.max)} (raw readings p95 ${f(spreadMs.p95)} max ${f(spreadMs.max)})` });
    if (headline) checks.push({ name: `spread (audio level, ${headline.fromSec}–${headline.toSec.toFixed(0)} s) p95 ≤ ${t.spreadP95Ms}${Number.isFinite(t.spreadMaxMs) ? `, max ≤ ${t.spreadMaxMs}` : ''} ms`, ok: headline.spreadMs.p95 !== null && headline.spreadMs.p95 <= t.spreadP95Ms && (headline.spreadMs.max ?? Infinity) <= t.spreadMaxMs, detail: `p95 ${f(headline.spreadMs.p95)} max ${f(headline.spreadMs.max)} over ${headline.valid} of ${headline.windows} windows` });
    if (def.startAt && click) {
      const on = click.playedMs;
      checks.push({ name: 'start heard within ±5 ms of the wall-clock instant (click onset as played, every member)', ok: on.length > 0 && on.every((v) => v !== null && Math.abs(v) <= 5), detail: `click played − instant ${on.map((v) => f(v, 2)).join(', ')} ms (captured − instant ${click.capturedMs.map((v) => f(v, 2)).join(', ')}; mixing block ${f(click.blockMs, 2)}); members ${f(click.spreadMs)} ms apart; the timeline's instant − wall-clock time ${f(play.tl.at - (wallStartMono ?? NaN), 3)} ms` });
    }
    if (def.startAt && starts[0]) {
      checks.push({ name: 'members within 0.25 ms in the first 1-s window', ok: starts[0].firstSecondSpreadMs !== null && starts[0].firstSecondSpreadMs <= 0.25, detail: `${f(starts[0].firstSecondSpreadMs)} ms` });
    }
  }
  const conv = commandResults.map((c) => c.converged.ms);
  checks.push({ name: `converged (all within ${t.convergedMs} ms for 1 s) ≤ ${t.convergeMs / 1000} s after PLAY, SEEK, NEXT`, ok: conv.every((v) => v !== null && v <= t.convergeMs), detail: conv.map((v, i) => `${commandResults[i]!.kind} ${sec(v)}`).join(', ') });
  if (t.clockErrP95Ms !== undefined) checks.push({ name: `clock estimate error p95 ≤ ${t.clockErrP95Ms} ms`, ok: clockErrMs.p95 !== null && clockErrMs.p95 <= t.clockErrP95Ms, detail: `p95 ${f(clockErrMs.p95)} max ${f(clockErrMs.max)}` });
  if (t.speedWithin !== undefined) {
    const lo = Math.min(...memberResults.map((m) => m.steadySpeedMin ?? NaN));
    const hi = Math.max(...memberResults.map((m) => m.steadySpeedMax ?? NaN));
    checks.push({ name: `steady speed within 1 ± ${t.speedWithin}`, ok: lo >= 1 - t.speedWithin && hi <= 1 + t.speedWithin, detail: `${lo.toFixed(5)}–${hi.toFixed(5)}` });
  }
  if (memberDeaths.length) checks.push({ name: 'no member died', ok: false, detail: memberDeaths.join('; ') });
  const unconv = memberResults.filter((m) => m.steadyReadings === 0);
  if (unconv.length) checks.push({ name: 'steady readings from every member', ok: false, detail: unconv.map((m) => m.name).join(', ') });

  return {
    scenario,
    run,
    headline,
    starts,
    click,
    startAtVsWallMs: wallStartMono === null ? null : play.tl.at - wallStartMono,
    description: def.description,
    targets: def.targets,
    durationSec: opts.durationSec,
    onPulse,
    hog: hog ? hog.describe() : null,
    commands: { leader: leader.command, members: members.map((m) => m.command) },
    tracks: tracks.map((tr) => ({ title: tr.title, durationSec: tr.durationSec })),
    timelines: tls,
    boundaries,
    playAt,
    endMs,
    spreadMs,
    spreadSmoothedMs,
    budget,
    audio,
    clockErrMs,
    ipcRttMs: stats([...series.values()].flat().filter((r) => r.t >= playAt && r.t < endMs).map((r) => r.ipcRttMs)),
    loadAvg: { start: loadStart, end: loadavg() },
    unmatchedReadings: unmatched,
    commandResults,
    members: memberResults,
    leader: res(0),
    bench: res(1 + 2 * n),
    checks,
    pass: checks.every((c) => c.ok),
    memberDeaths,
    orphansKilled,
    uncleanStops,
    snapshots,
    wallSec: (monotonicMs() - wallStart) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Snapcast in the same room

interface SnapResult {
  scenario: string;
  run: number;
  description: string;
  headline: HeadlineAudio | null;
  loadAvg: { start: number[]; end: number[] };
  commands: string[];
  /** CPU % of one core: server, clients (mean) */
  cpuPct: { server: number | null; clients: number | null };
  wallSec: number;
}

/**
 * snapserver + one snapclient per member in a fresh PulseRoom; "PLAY" is the moment every client
 * is running; recorded for the run's duration, the headline taken the same way as syncplay's.
 */
async function runSnapcast(def: ScenarioDef, opts: Options, resultsDir: string, run: number): Promise<SnapResult> {
  const wallStart = monotonicMs();
  const loadStart = loadavg();
  const runDir = opts.runs > 1 ? `${def.name}-${run}` : def.name;
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-bench-snap-'));
  const names = Array.from({ length: opts.members }, (_, k) => `m${k + 1}`);
  const log = (m: string): void => void process.stderr.write(`[${def.name}] ${m}\n`);
  const room = new PulseRoom({ dir: join(tmp, 'pulse'), members: names });
  const pcm = join(referenceDir(), `track-0-${room.sampleRate}-stereo.raw`);
  const first = readFileSync(join(root, 'playlists', 'example.m3u8'), 'utf8').split('\n').find((l) => l.trim() && !l.startsWith('#'))!.trim();
  decodeToRaw(join(root, 'playlists', first), pcm, { sampleRate: room.sampleRate, channels: 2 });
  const snap = new SnapcastRoom({ room, dir: join(tmp, 'snapcast'), pcmPath: pcm, sampleRate: room.sampleRate, clients: names });
  const stopBoth = async (): Promise<void> => {
    await snap.stop();
    await room.stop();
  };
  const pids = (): (number | null)[] => [...snap.pids, room.pid];
  extraStops.add(stopBoth);
  extraPids.add(pids);
  let recording: Awaited<ReturnType<PulseRoom['stopRecording']>> | null = null;
  let playAt = 0;
  let cpu: { server: number | null; clients: number | null } = { server: null, clients: null };
  try {
    await room.start();
    await room.startRecording();
    await snap.start();
    playAt = monotonicMs();
    log(`PulseAudio pid ${room.pid}; snapserver on 127.0.0.1:${snap.port}, clients ${names.join(', ')} (pids ${snap.pids.join(', ')}); recording ${opts.durationSec} s`);
    const cpu0 = cpuNow(snap.pids);
    while (monotonicMs() < playAt + opts.durationSec * 1000) {
      if (interrupted) throw new Error('interrupted');
      await sleep(Math.min(500, playAt + opts.durationSec * 1000 - monotonicMs()));
    }
    const cpu1 = cpuNow(snap.pids);
    const pct = cpu0.map((c, i) => (c !== null && cpu1[i] !== null ? (100 * (cpu1[i]! - c)) / opts.durationSec : null));
    const cl = pct.slice(1).filter((v): v is number => v !== null);
    cpu = { server: pct[0] ?? null, clients: cl.length ? mean(cl) : null };
  } finally {
    try {
      recording = await room.stopRecording();
    } catch (e) {
      log(`recording: ${(e as Error).message}`);
    }
    await stopBoth();
    extraStops.delete(stopBoth);
    extraPids.delete(pids);
    const keep = join(resultsDir, runDir);
    mkdirSync(keep, { recursive: true });
    for (const dir of [join(tmp, 'snapcast'), join(tmp, 'pulse')]) if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.log')) copyFileSync(join(dir, f), join(keep, f));
    if (!opts.keepTmp) rmSync(tmp, { recursive: true, force: true });
  }
  const endMs = playAt + opts.durationSec * 1000;
  if (recording && opts.saveAudio) saveRecording(join(resultsDir, runDir), recording, { playAt, endMs });
  return {
    scenario: def.name,
    run,
    description: def.description,
    headline: recording && recording.channels[0]!.length > recording.sampleRate * 2 ? headlineAudio(recording, playAt, endMs, () => true) : null,
    loadAvg: { start: loadStart, end: loadavg() },
    commands: snap.commands,
    cpuPct: cpu,
    wallSec: (monotonicMs() - wallStart) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const f = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || Number.isNaN(v) ? '—' : !Number.isFinite(v) ? '∞' : v.toFixed(digits));
const sec = (ms: number | null | undefined): string => (ms === null || ms === undefined ? 'never' : !Number.isFinite(ms) ? 'never' : `${(ms / 1000).toFixed(1)} s`);
const pf = (ok: boolean): string => (ok ? 'PASS' : '**FAIL**');
const s3 = (s: Stats, digits = 3): string => `${f(s.p50, digits)} / ${f(s.p95, digits)} / ${f(s.max, digits)}`;

function pooled(r: ScenarioResult, pick: (m: MemberResult) => Stats): Stats {
  // worst member's figures (p50, p95, max taken as the largest over members)
  const all = r.members.map(pick);
  const mx = (k: 'p50' | 'p95' | 'max'): number | null => (all.some((s) => s[k] !== null) ? Math.max(...all.map((s) => s[k] ?? -Infinity)) : null);
  return { n: all.reduce((a, s) => a + s.n, 0), p50: mx('p50'), p95: mx('p95'), max: mx('max') };
}

function summaryTable(results: ScenarioResult[]): string {
  const out: string[] = [];
  out.push('All figures in ms unless marked; p50 / p95 / max. Spread and errors after convergence (steady state), clock error against the true offset (minus the known path bias in `asymmetric`).');
  out.push('');
  out.push('| scenario | load avg (1 min, start→end) | clock est. error | spread, telemetry raw | spread, telemetry 1 s-smoothed | spread, audio level | worst member \\|error vs timeline\\| | start error after PLAY (first reading, per member) | converged after PLAY / SEEK / NEXT: within the scenario threshold (within 1 ms) | hard seeks | steady speed range | CPU % of a core: leader / members / mpv (mean) / bench | peak RSS MiB: leader / member (max) / mpv (max) | result |');
  out.push('|---|---|---|---|---|---|---|---|---|---:|---|---|---|---|');
  for (const r of results) {
    const starts = r.members.map((m) => f(m.firstErrMs.play, 2)).join(', ');
    const conv = r.commandResults.map((c) => `${sec(c.converged.ms)} (${sec(c.convergedLegacy.ms)})`).join(' / ');
    const hard = r.members.reduce((a, m) => a + (m.hardSeeks ?? 0), 0);
    const lo = Math.min(...r.members.map((m) => m.steadySpeedMin ?? NaN));
    const hi = Math.max(...r.members.map((m) => m.steadySpeedMax ?? NaN));
    const avg = (v: (number | null)[]): number | null => mean(v.filter((x): x is number => x !== null));
    const mxv = (v: (number | null)[]): number | null => (v.some((x) => x !== null) ? Math.max(...v.filter((x): x is number => x !== null)) : null);
    const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
    out.push(
      `| ${r.scenario}${r.run > 1 ? ` #${r.run}` : ''}${r.onPulse ? ' (pulse)' : ''} | ${r.loadAvg.start[0]!.toFixed(2)} → ${r.loadAvg.end[0]!.toFixed(2)} | ${s3(r.clockErrMs)} | ${s3(r.spreadMs)} | ${s3(r.spreadSmoothedMs)} | ${r.audio ? s3(r.audio.spreadMs) : '—'} | ${s3(pooled(r, (m) => m.absTrueErrMs))} | ${starts} | ${conv} | ${hard} | ${Number.isFinite(lo) ? `${lo.toFixed(5)}–${hi.toFixed(5)}` : '—'} | ${f(r.leader.cpuPct, 1)} / ${f(avg(r.members.map((m) => m.member.cpuPct)), 1)} / ${f(avg(r.members.map((m) => m.mpv.cpuPct)), 1)} / ${f(r.bench.cpuPct, 1)} | ${f(r.leader.peakRssMiB, 0)} / ${f(mxv(r.members.map((m) => m.member.peakRssMiB)), 0)} / ${f(mxv(r.members.map((m) => m.mpv.peakRssMiB)), 0)} | ${r.pass ? 'PASS' : `**FAIL** (${failed.join('; ')})`} |`,
    );
  }
  return out.join('\n');
}

/** the Snapcast run of the same round, and this run's audio p95 over Snapcast's */
function snapOf(r: ScenarioResult, snaps: readonly SnapResult[]): { snap: SnapResult | null; ratio: number | null } {
  const snap = snaps.find((x) => x.run === r.run) ?? null;
  const a = r.headline?.spreadMs.p95 ?? null;
  const b = snap?.headline?.spreadMs.p95 ?? null;
  return { snap, ratio: a !== null && b !== null && b > 0 ? a / b : null };
}

/** clean on PulseAudio: p95 ≤ 0.5 × Snapcast's p95 in the same round */
function snapRatioChecks(results: readonly ScenarioResult[], snaps: readonly SnapResult[]): { run: number; ok: boolean; ratio: number | null }[] {
  if (!snaps.length) return [];
  return results.filter((r) => (r.scenario === 'clean' || r.scenario === 'loopback' || r.scenario === 'audio') && r.headline).map((r) => {
    const { ratio } = snapOf(r, snaps);
    return { run: r.run, ok: ratio !== null && ratio <= 0.5, ratio };
  });
}

const coh = (h: HeadlineAudio): string => `${f(h.coherence.p50)} / ${f(h.coherence.p5)} / ${f(h.coherence.min)}`;

/** Every run: the recorded spread first, then the first second after each command. */
function headlineTable(results: readonly ScenarioResult[], snaps: readonly SnapResult[]): string {
  const out: string[] = [];
  out.push(`Per run. Spread = max − min of the members' lags behind m1, per 1-s window (hop 0.5 s) from ${SETTLE_SEC} s after PLAY to the end, leaving out ±1 s around track boundaries and 1 s before to ${AFTER_COMMAND_MS / 1000} s after SEEK and NEXT; coherence = the weakest member's normalised correlation with m1 at the lag found (1.000 = the same sound, merely shifted). "First second": the window [instant, +1 s] after PLAY / SEEK / NEXT; "behind schedule": each member's sound against the decoded track where the schedule has it, over [+0.05, +1.05 s], and in brackets once settled (+4…+8 s: the recorder hears a block when the room's sink mixes it, about one sink latency before PulseAudio reports it played, which is when members aim to play it, so a member on time shows the bracketed value from the first second); "onset": first sample over −40 dBFS against the schedule's (biased by the level difference between the recording and the decoded track on a fade-in: the correlation is the better measure). ms unless marked.`);
  out.push('');
  out.push('| scenario | run | load (1 min) | valid windows | spread p50 / p95 / max | coherence p50 / p5 / min | telemetry spread p95 (1 s) | first second after PLAY / SEEK / NEXT: spread | behind schedule after PLAY (per member) | onset after PLAY (per member) | Snapcast p95, same round | ratio | result |');
  out.push('|---|---:|---|---|---|---|---:|---|---|---|---:|---:|---|');
  const rows: { name: string; run: number; line: string }[] = [];
  for (const r of results) {
    if (!r.headline) continue;
    const h = r.headline;
    const { snap, ratio } = snapOf(r, snaps);
    const play = r.starts.find((x) => x.kind === 'play');
    const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
    rows.push({
      name: r.scenario,
      run: r.run,
      line: `| ${r.scenario} | ${r.run} | ${r.loadAvg.start[0]!.toFixed(2)} → ${r.loadAvg.end[0]!.toFixed(2)} | ${h.valid} / ${h.windows} | ${s3(h.spreadMs)} | ${coh(h)} | ${f(r.spreadSmoothedMs.p95)} | ${r.starts.map((x) => f(x.firstSecondSpreadMs)).join(' / ')} | ${play ? play.scheduleLagMs.map((v, i) => `${f(v, 2)} (${f(play.steadyLagMs[i], 2)})`).join(', ') : '—'} | ${r.click ? `click, played − wall-clock instant: ${r.click.playedMs.map((v) => f(v, 2)).join(', ')}` : play ? play.onsetMs.map((v) => f(v, 2)).join(', ') : '—'}${r.startAtVsWallMs !== null ? ` (timeline instant − wall clock ${f(r.startAtVsWallMs, 2)})` : ''} | ${f(snap?.headline?.spreadMs.p95)} | ${f(ratio, 2)} | ${r.pass ? 'PASS' : `**FAIL** (${failed.join('; ')})`} |`,
    });
  }
  for (const r of snaps) {
    if (!r.headline) continue;
    const h = r.headline;
    rows.push({ name: r.scenario, run: r.run, line: `| ${r.scenario} | ${r.run} | ${r.loadAvg.start[0]!.toFixed(2)} → ${r.loadAvg.end[0]!.toFixed(2)} | ${h.valid} / ${h.windows} | ${s3(h.spreadMs)} | ${coh(h)} | — | — | — | — | — | — | CPU % server ${f(r.cpuPct.server, 1)}, client ${f(r.cpuPct.clients, 1)} |` });
  }
  const order = [...new Set(rows.map((x) => x.name))];
  rows.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name) || a.run - b.run);
  out.push(...rows.map((x) => x.line));
  return out.join('\n');
}

/** `start` over its runs: the clicks against the wall-clock instant, and the members' spread in the first second. */
function clickTable(results: readonly ScenarioResult[]): string | null {
  const runs = results.filter((r) => r.click);
  if (!runs.length) return null;
  const out: string[] = [];
  out.push('The first track of the `start` scenario has a click (one sample at 0.9 of full scale) 100 ms in. Onset = when the recording has it, timed by the capture\'s chunk arrivals near it (bench/click-onset.ts), as played (captured + one mixing block: when PulseAudio counts it played, which is what members aim at), minus when it was due: the wall-clock instant given to `--start-at` (on the same monotonic clock) + 100 ms. ms.');
  out.push('');
  out.push('| run | load (1 min) | onset − instant, per member | members\' click spread | first second after the start: spread (correlation) | timeline instant − wall clock |');
  out.push('|---:|---|---|---:|---:|---:|');
  for (const r of runs) {
    const c = r.click!;
    const first = r.starts.find((x) => x.kind === 'play')?.firstSecondSpreadMs ?? null;
    out.push(`| ${r.run} | ${r.loadAvg.start[0]!.toFixed(2)} → ${r.loadAvg.end[0]!.toFixed(2)} | ${c.playedMs.map((v) => f(v, 2)).join(', ')} | ${f(c.spreadMs)} | ${f(first)} | ${f(r.startAtVsWallMs, 3)} |`);
  }
  const on = runs.flatMap((r) => r.click!.playedMs).filter((v): v is number => v !== null);
  const abs = stats(on.map(Math.abs));
  const spreads = runs.map((r) => r.click!.spreadMs).filter((v): v is number => v !== null);
  const firsts = runs.map((r) => r.starts.find((x) => x.kind === 'play')?.firstSecondSpreadMs ?? null).filter((v): v is number => v !== null);
  out.push('');
  out.push(`- onset − instant over ${runs.length} runs × members (${on.length} of ${runs.length * (runs[0]!.click!.playedMs.length)} clicks found): p50 ${f(median(on), 2)}, |·| p95 ${f(abs.p95, 2)}, max ${f(abs.max, 2)} (range ${f(on.length ? Math.min(...on) : null, 2)} … ${f(on.length ? Math.max(...on) : null, 2)}); target ±5`);
  out.push(`- members' click spread: median ${f(median(spreads))}, max ${f(spreads.length ? Math.max(...spreads) : null)}; first-second spread (correlation): median ${f(median(firsts))}, max ${f(firsts.length ? Math.max(...firsts) : null)}; target 0.25`);
  return out.join('\n');
}

/** Per scenario over its runs: each run's p95 and max, their median and range. */
function runsTable(results: readonly ScenarioResult[], snaps: readonly SnapResult[], opts: Options): string {
  const out: string[] = [];
  const groups = new Map<string, { h: HeadlineAudio; pass: boolean | null; targets: Targets; ratio: number | null }[]>();
  for (const r of results) if (r.headline) (groups.get(r.scenario) ?? groups.set(r.scenario, []).get(r.scenario)!).push({ h: r.headline, pass: r.pass, targets: r.targets, ratio: snapOf(r, snaps).ratio });
  for (const r of snaps) if (r.headline) (groups.get(r.scenario) ?? groups.set(r.scenario, []).get(r.scenario)!).push({ h: r.headline, pass: null, targets: T_CLEAN, ratio: null });
  out.push(`Over runs (${opts.runs} per scenario, interleaved; ${opts.members} members; ${SETTLE_SEC}–${opts.durationSec} s after PLAY). ms.`);
  out.push('');
  out.push('| scenario | target p95 / max | runs | p95 of each run | p95: median (range) | max: median (worst) | coherence p50, median of runs | valid windows (all runs) | runs meeting every target | p95 ÷ Snapcast p95, same round |');
  out.push('|---|---|---:|---|---|---|---:|---|---:|---|');
  for (const [name, g] of groups) {
    const p95 = g.map((x) => x.h.spreadMs.p95).filter((v): v is number => v !== null);
    const mx = g.map((x) => x.h.spreadMs.max).filter((v): v is number => v !== null);
    const cp = g.map((x) => x.h.coherence.p50).filter((v): v is number => v !== null);
    const t = g[0]!.targets;
    const passes = g.filter((x) => x.pass === true).length;
    const ratios = g.map((x) => x.ratio).filter((v): v is number => v !== null);
    out.push(
      `| ${name} | ${name === 'snapcast' ? '—' : `${t.spreadP95Ms} / ${t.spreadMaxMs}`} | ${g.length} | ${p95.map((v) => f(v)).join(', ')} | ${f(median(p95))} (${f(Math.min(...p95))}–${f(Math.max(...p95))}) | ${f(median(mx))} (${f(Math.max(...mx))}) | ${f(median(cp))} | ${g.reduce((a, x) => a + x.h.valid, 0)} / ${g.reduce((a, x) => a + x.h.windows, 0)} | ${name === 'snapcast' ? '—' : `${passes} / ${g.length}`} | ${ratios.length ? ratios.map((v) => f(v, 2)).join(', ') : '—'} |`,
    );
  }
  const rc = snapRatioChecks(results, snaps);
  if (rc.length) {
    out.push('');
    out.push(`- ${pf(rc.every((c) => c.ok))} clean p95 ≤ 0.5 × Snapcast's p95 in the same round: ${rc.map((c) => `run ${c.run} ${f(c.ratio, 2)}`).join(', ')}`);
  }
  return out.join('\n');
}

function report(r: ScenarioResult, opts: Options): string {
  const out: string[] = [];
  const rel = (t: number): string => `+${((t - r.playAt) / 1000).toFixed(2)} s`;
  out.push(`### ${r.scenario}${r.run > 1 ? ` (run ${r.run})` : ''} — ${r.description}`);
  out.push('');
  out.push(
    `${r.durationSec} s from PLAY, ${r.members.length} members on ${r.onPulse ? 'a private PulseAudio (one remap sink each, recorded together)' : '--ao=null'}${r.hog ? `; CPU hog: ${r.hog}` : ''}. PLAY at ${rel(r.playAt)}, SEEK to ${opts.seekToSec} s at ${rel(r.commandResults[1]!.timeline.at)}, NEXT at ${rel(r.commandResults[2]!.timeline.at)}; track boundaries at ${r.boundaries.map(rel).join(', ') || 'none'}. Steady state = from convergence (within ${r.targets.convergedMs} ms) to the next command, without ±${EXCLUDE_MARGIN_MS / 1000} s around commands and boundaries. Load average ${r.loadAvg.start.map((v) => v.toFixed(2)).join(' ')} → ${r.loadAvg.end.map((v) => v.toFixed(2)).join(' ')} on ${availableParallelism()} CPUs; run took ${r.wallSec.toFixed(0)} s.`,
  );
  out.push('');
  for (const c of r.checks) out.push(`- ${pf(c.ok)} ${c.name}: ${c.detail}`);
  out.push(
    `- error budget (1 s-smoothed spreads, p50 / p95 / max ms): total ${s3(r.spreadSmoothedMs)}; clock estimates alone ${s3(r.budget.clockSpreadMs)}; members' own error estimates alone (controller residual + reading noise) ${s3(r.budget.estSpreadMs)}${r.audio ? `; sound (audio level, 1 s windows) ${s3(r.audio.spreadMs)}` : ''}`,
  );
  out.push('');
  out.push('| member | setup | readings (steady) | mean error ms | \\|error\\| p50 / p95 / max ms | \\|error\\| max, all readings | clock est. error mean / \\|.\\| p95 ms | skew estimate at end / true, ppm | first error PLAY / SEEK / NEXT ms | converged PLAY / SEEK / NEXT | reading noise ms | IPC rtt p50 / p95 ms | hard seeks | steady speed mean (range) | sound lag behind m1 / telemetry says (medians) ms; \\|difference\\| p50 / p95 | CPU % member / mpv | peak RSS MiB member / mpv | proxy delay up / down p50 ms, stalls |');
  out.push('|---|---|---:|---:|---|---:|---|---|---|---|---:|---|---:|---|---|---|---|---|');
  for (const [i, m] of r.members.entries()) {
    out.push(
      `| ${m.name} | ${m.setup} | ${m.readings} (${m.steadyReadings}) | ${f(m.meanTrueErrMs)} | ${s3(m.absTrueErrMs)} | ${f(m.absTrueErrAllMs.max, 2)} | ${f(m.meanClockErrMs)} / ${f(m.absClockErrMs.p95)} | ${f(m.reportedSkewPpm, 1)} / ${f(m.trueSkewPpm, 1)} | ${f(m.firstErrMs.play, 2)} / ${f(m.firstErrMs.seek, 2)} / ${f(m.firstErrMs.next, 2)} | ${sec(m.convergenceMs.play)} / ${sec(m.convergenceMs.seek)} / ${sec(m.convergenceMs.next)} | ${f(m.readingNoiseMs)} | ${f(m.ipcRttMs.p50)} / ${f(m.ipcRttMs.p95)} | ${m.hardSeeks ?? '—'} | ${m.steadySpeedMean === null ? '—' : `${m.steadySpeedMean.toFixed(6)} (${m.steadySpeedMin!.toFixed(6)}–${m.steadySpeedMax!.toFixed(6)})`} | ${f(m.audioLagVsFirstMs)} / ${f(m.telemetryLagVsFirstMs)}${m.audioMinusTelemetryMs && i > 0 ? `; ${f(m.audioMinusTelemetryMs.p50)} / ${f(m.audioMinusTelemetryMs.p95)}` : ''} | ${f(m.member.cpuPct, 1)} / ${f(m.mpv.cpuPct, 1)} | ${f(m.member.peakRssMiB, 0)} / ${f(m.mpv.peakRssMiB, 0)} | ${m.proxy ? `${f(m.proxy.upP50Ms, 2)} / ${f(m.proxy.downP50Ms, 2)}, ${m.proxy.upStalls + m.proxy.downStalls}` : '—'} |`,
    );
  }
  const notes: string[] = [];
  for (const m of r.members) {
    if (m.fakeClock) notes.push(`${m.name}: fake clock − real at its start ${m.fakeClock.offsetMs.toFixed(3)} ms, rate ${m.fakeClock.specRate} (probe: ${((m.fakeClock.rate - 1) * 1e6).toFixed(1)} ppm, min rtt ${m.fakeClock.minRttMs.toFixed(3)} ms, residual ${(m.fakeClock.residualMs * 1000).toFixed(1)} µs); its readings were mapped back with that transform`);
  }
  if (r.audio) notes.push(`audio: ${r.audio.windows} windows of 1 s (hop 0.5 s) during the run, ${r.audio.usableWindows} with an estimate for every member, ${r.audio.spreadMs.n} steady; recording ${r.audio.recordedSec.toFixed(1)} s`);
  const load = Math.max(r.loadAvg.start[0]!, r.loadAvg.end[0]!);
  if (load > availableParallelism()) notes.push(`the machine was overloaded (1-min load average up to ${load.toFixed(1)} on ${availableParallelism()} CPUs): late starts, underruns and noisy readings are expected`);
  if (r.unmatchedReadings) notes.push(`${r.unmatchedReadings} readings were of a track neither at nor next to the timeline's (left out)`);
  if (r.uncleanStops.length) notes.push(`needed SIGKILL: ${r.uncleanStops.join(', ')}`);
  if (r.orphansKilled.length) notes.push(`killed ${r.orphansKilled.length} leftover mpv process(es) by PID`);
  for (const m of r.members) if (m.readings < 0.5 * (r.durationSec * 10)) notes.push(`${m.name}: only ${m.readings} readings in ${r.durationSec} s (expected ~${r.durationSec * 10})`);
  if (notes.length) {
    out.push('');
    for (const n of notes) out.push(`- ${n}`);
  }
  out.push('');
  out.push(`${pf(r.pass)} — ${r.scenario}`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const started = monotonicMs();
  const loadStart = loadavg();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsRoot = join(root, 'bench', 'results');
  const resultsDir = join(resultsRoot, `sync-${stamp}`);
  mkdirSync(resultsDir, { recursive: true });
  const benchCommand = ['node', 'dist/bench/sync-bench.js', ...process.argv.slice(2)].map(shellQuote).join(' ');
  const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' });
  const revision = git.status === 0 ? git.stdout.trim() : 'unknown';
  // the product under test is the working tree as built: say which src/ files differ from the revision
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' });
  const dirtySrc = dirty.status === 0 ? dirty.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];

  const results: ScenarioResult[] = [];
  const snaps: SnapResult[] = [];
  const failures: string[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const def of opts.scenarios) {
      if (interrupted) break;
      if (opts.runs > 1) process.stderr.write(`[${def.name}] run ${run} of ${opts.runs}\n`);
      try {
        if (def.snapcast) snaps.push(await runSnapcast(def, opts, resultsDir, run));
        else results.push(await runScenario(def, opts, resultsDir, run));
      } catch (e) {
        failures.push(`${def.name} (run ${run}): ${(e as Error).message}`);
        process.stderr.write(`[${def.name}] failed: ${(e as Error).message}\n`);
        await stopAll();
      }
    }
  }
  const totalSec = (monotonicMs() - started) / 1000;

  const text: string[] = [];
  text.push(`## syncplay sync benchmark`);
  text.push('');
  text.push(`\`$ ${benchCommand}\` — ${results.length} scenario(s), ${opts.members} members, ${opts.durationSec} s each from PLAY; total ${totalSec.toFixed(0)} s; load average (1/5/15 min) ${loadStart.map((v) => v.toFixed(2)).join(' ')} at start, ${loadavg().map((v) => v.toFixed(2)).join(' ')} at end, on ${availableParallelism()} CPUs; revision ${revision}${dirtySrc.length ? ` (uncommitted in src/: ${dirtySrc.join(', ')})` : ''}.`);
  text.push('');
  if (results.some((r) => r.headline) || snaps.length) {
    text.push('### Audio level (the headline: every member recorded in one PulseAudio room, 1-s windows cross-correlated)');
    text.push('');
    text.push(runsTable(results, snaps, opts));
    const clicks = clickTable(results);
    if (clicks) text.push('', '### Start onset (click)', '', clicks);
    text.push('');
    text.push(headlineTable(results, snaps));
    text.push('');
    text.push('### Telemetry (what the members report, against the true clock)');
    text.push('');
  }
  if (results.length) text.push(summaryTable(results));
  for (const fl of failures) text.push(`\n**FAILED TO RUN** ${fl}`);
  text.push('');
  for (const r of results) {
    text.push(report(r, opts));
    text.push('');
  }
  text.push('Commands run per scenario:');
  text.push('');
  text.push('```');
  for (const r of results.filter((x) => x.run === 1)) {
    text.push(`# ${r.scenario}:`);
    text.push(r.commands.leader);
    for (const m of r.commands.members) text.push(m);
  }
  for (const r of snaps.filter((x) => x.run === 1)) {
    text.push(`# ${r.scenario}:`);
    for (const c of r.commands) text.push(c);
  }
  text.push('```');
  text.push('');
  text.push(`Results: ${join('bench', 'results', `sync-${stamp}.json`)} (telemetry and logs in ${join('bench', 'results', `sync-${stamp}`)}/).`);
  process.stdout.write(text.join('\n') + '\n');

  writeFileSync(
    join(resultsRoot, `sync-${stamp}.json`),
    JSON.stringify({ command: benchCommand, revision, dirtySrc, startedAt: new Date(Date.now() - totalSec * 1000).toISOString(), totalSec, loadAvg: { start: loadStart, end: loadavg() }, options: { ...opts, scenarios: opts.scenarios.map((s) => s.name) }, failures, results, snapcast: snaps, markdown: text.join('\n') }, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 2) + '\n',
  );
  if (failures.length > 0) return 1;
  return opts.reportOnly || (results.every((r) => r.pass) && snapRatioChecks(results, snaps).every((c) => c.ok)) ? 0 : 1;
}

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (e: unknown) => {
    process.stderr.write(`sync-bench: ${(e as Error).message ?? String(e)}\n`);
    await stopAll();
    process.exit(2);
  },
);
