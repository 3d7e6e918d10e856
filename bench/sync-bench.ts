/**
 * Sync benchmark: a leader and three members (mpv with --ao=null) on this machine play the bundled
 * playlist; the members' telemetry is compared with the timelines the leader issued.
 *
 *   node dist/bench/sync-bench.js [--duration 60] [--scenario all|no-drift|drift] [--drift] [--quick]
 *
 * Per scenario: start the leader and the members, wait until every member is connected with a
 * clock estimate and checked files, PLAY, SEEK to 5 s halfway through, stop at the end. Every
 * process reads the same CLOCK_MONOTONIC, so a reading's local timestamp is on the leader's
 * clock and its true error needs no clock estimate (see sync-analysis.ts). The drift scenario
 * makes one simulated device run 100 ppm fast and another 100 ppm slow.
 *
 * Prints markdown tables with pass/fail against the targets, writes JSON to bench/results/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { monotonicMs } from '../src/clock/monotonic.js';
import type { ControlRequest } from '../src/leader/control-server.js';
import type { LeaderStatus, MemberView } from '../src/leader/leader.js';
import type { Timeline } from '../src/protocol/messages.js';
import {
  convergence,
  grid,
  inSteady,
  readingNoiseMs,
  smoothedSpreads,
  stats,
  trackBoundaries,
  trueErrors,
  type Convergence,
  type Stats,
  type TelemetryLine,
  type Window,
} from './sync-analysis.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------------------------------------
// Targets

const TARGET = { spreadP95Ms: 1, spreadMaxMs: 3, convergenceMs: 3000 } as const;
const CONVERGED_MS = 1;
const CONVERGED_TIGHT_MS = 0.5;
/** grid points / readings within this of a command instant or a track boundary are left out of steady-state figures */
const EXCLUDE_MARGIN_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Options

type ScenarioName = 'no-drift' | 'drift';

interface Options {
  durationSec: number;
  scenarios: ScenarioName[];
  members: number;
  seekToSec: number;
  keepTmp: boolean;
}

function usage(): string {
  return [
    'usage: node dist/bench/sync-bench.js [options]',
    '  --duration <s>        seconds of playback per scenario, from the PLAY instant (default 60)',
    '  --scenario <name>     all (default) | no-drift | drift',
    '  --drift               same as --scenario drift',
    '  --quick               20 s per scenario (CI smoke test)',
    '  --members <n>         members to start (default 3)',
    '  --seek-to <s>         where the midway seek goes (default 5)',
    '  --keep-tmp            keep the temporary directory (sockets, logs, telemetry)',
  ].join('\n');
}

function parseArgs(argv: string[]): Options {
  let duration: number | null = null;
  let scenario: string | null = null;
  let quick = false;
  let members = 3;
  let seekToSec = 5;
  let keepTmp = false;
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--duration':
        duration = num('--duration', value());
        break;
      case '--scenario':
        scenario = value() ?? '';
        break;
      case '--drift':
        scenario = 'drift';
        break;
      case '--quick':
        quick = true;
        break;
      case '--members':
        members = Math.round(num('--members', value()));
        break;
      case '--seek-to':
        seekToSec = Number(value());
        if (!Number.isFinite(seekToSec) || seekToSec < 0) throw new Error('--seek-to needs a number of seconds ≥ 0');
        break;
      case '--keep-tmp':
        keepTmp = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(usage() + '\n');
        process.exit(0);
      // falls through (process.exit never returns)
      default:
        throw new Error(`unknown option ${arg}\n${usage()}`);
    }
  }
  const scenarios: ScenarioName[] =
    scenario === null || scenario === 'all' ? ['no-drift', 'drift'] : scenario === 'drift' || scenario === 'no-drift' ? [scenario] : (() => {
      throw new Error(`unknown scenario "${scenario}" (all | no-drift | drift)`);
    })();
  if (members < 2) throw new Error('--members needs at least 2 (spread is between members)');
  return { durationSec: duration ?? (quick ? 20 : 60), scenarios, members, seekToSec, keepTmp };
}

// ---------------------------------------------------------------------------------------------
// Child processes: ours only, killed by PID, always

interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  command: string;
  logPath: string;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  exited: boolean;
  exitedPromise: Promise<void>;
}

const children = new Set<Child>();

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function spawnChild(name: string, args: string[], logPath: string): Child {
  const fd = openSync(logPath, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  let resolveExit!: () => void;
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    command: ['node', ...args].map(shellQuote).join(' '),
    logPath,
    exitCode: null,
    exitSignal: null,
    exited: false,
    exitedPromise: new Promise<void>((r) => (resolveExit = r)),
  };
  proc.on('exit', (code, signal) => {
    child.exited = true;
    child.exitCode = code;
    child.exitSignal = signal;
    resolveExit();
  });
  proc.on('error', () => {
    child.exited = true;
    resolveExit();
  });
  children.add(child);
  return child;
}

/** PIDs of the processes below `pid` (Linux /proc; empty elsewhere). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tasks) {
      let kids: string[] = [];
      try {
        kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      } catch {
        continue;
      }
      for (const k of kids) {
        const n = Number(k);
        if (Number.isInteger(n) && !out.includes(n)) {
          out.push(n);
          walk(n);
        }
      }
    }
  };
  walk(pid);
  return out;
}

function cmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** SIGTERM, then SIGKILL after a grace period; mpv processes a member started and left behind are killed by PID too. */
async function stopChild(child: Child, graceMs = 5000): Promise<{ clean: boolean; orphans: number[] }> {
  const below = descendants(child.pid).map((pid) => ({ pid, cmd: cmdline(pid) }));
  let clean = true;
  if (!child.exited) {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    await Promise.race([child.exitedPromise, sleep(graceMs)]);
    if (!child.exited) {
      clean = false;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await Promise.race([child.exitedPromise, sleep(2000)]);
    }
  }
  children.delete(child);
  // Whatever the child started and did not take down with it (an mpv), if it is still the same process.
  const orphans: number[] = [];
  await sleep(below.length ? 200 : 0);
  for (const { pid, cmd } of below) {
    const now = cmdline(pid);
    if (now !== null && cmd !== null && now === cmd) {
      orphans.push(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  return { clean, orphans };
}

async function stopAll(): Promise<void> {
  // members first, then the leader
  const list = [...children].sort((a, b) => Number(a.name === 'leader') - Number(b.name === 'leader'));
  for (const c of list) await stopChild(c);
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
  for (const c of children) {
    if (c.exited) continue;
    for (const pid of descendants(c.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function logTail(child: Child, lines = 15): string {
  try {
    return readFileSync(child.logPath, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

function assertAlive(list: readonly Child[]): void {
  for (const c of list) {
    if (c.exited) throw new Error(`${c.name} exited (code ${c.exitCode ?? '—'}, signal ${c.exitSignal ?? '—'}); last log lines:\n${logTail(c)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Control socket

async function control(request: ControlRequest, socketPath: string): Promise<Record<string, unknown>> {
  return sendControl(request, socketPath, 3000);
}

async function status(socketPath: string): Promise<LeaderStatus> {
  const reply = await control({ cmd: 'status' }, socketPath);
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

interface MemberSpec {
  name: string;
  driftPpm: number;
  mpvArgs: string[];
}

interface Snapshot {
  t: number;
  members: Pick<MemberView, 'name' | 'connected' | 'errorMs' | 'speed' | 'hardSeeks' | 'playerState' | 'clockOffsetMs' | 'rttMs' | 'clockSkewPpm' | 'trackIndex'>[];
}

interface MemberResult {
  name: string;
  driftPpm: number;
  readings: number;
  steadyReadings: number;
  absTrueErrMs: Stats;
  meanTrueErrMs: number | null;
  absTrueErrAllMs: Stats;
  absEstErrMs: Stats;
  absEstMinusTrueMs: Stats;
  meanClockErrMs: number | null;
  absClockErrMs: Stats;
  steadySpeedMean: number | null;
  readingNoiseMs: number | null;
  /** true error of the first reading after each command's instant */
  initialErrPlayMs: number | null;
  initialErrSeekMs: number | null;
  ipcRttMs: Stats;
  hardSeeks: number | null;
  finalSpeed: number | null;
  steadySpeedMin: number | null;
  steadySpeedMax: number | null;
  convergencePlayMs: number | null;
  convergenceSeekMs: number | null;
  playerStates: string[];
}

interface CommandResult {
  kind: 'play' | 'seek';
  issuedAt: number;
  timeline: Timeline;
  untilMs: number;
  converged: Convergence;
  convergedTight: Convergence;
  perMember: Record<string, number | null>;
}

interface ScenarioResult {
  scenario: ScenarioName;
  durationSec: number;
  commands: { leader: string; members: string[] };
  tracks: { title: string; durationSec: number }[];
  timelines: Timeline[];
  boundaries: number[];
  playAt: number;
  endMs: number;
  spreadMs: Stats;
  spreadSmoothedMs: Stats;
  ipcRttMs: Stats;
  loadAvg: { start: number[]; end: number[] };
  spreadOver1Ms: number;
  unmatchedReadings: number;
  spreadOver3Ms: number;
  commandResults: CommandResult[];
  convergenceAllMembersMs: Stats;
  members: MemberResult[];
  pass: { spread: boolean; convergence: boolean; all: boolean };
  memberDeaths: string[];
  orphansKilled: number[];
  uncleanStops: string[];
  snapshots: Snapshot[];
  wallSec: number;
}

function memberSpecs(scenario: ScenarioName, n: number): MemberSpec[] {
  const specs: MemberSpec[] = [];
  for (let i = 1; i <= n; i++) {
    let driftPpm = 0;
    if (scenario === 'drift' && i === 1) driftPpm = 100;
    if (scenario === 'drift' && i === 2) driftPpm = -100;
    const mpvArgs = ['--mpv-arg=--ao=null'];
    if (driftPpm !== 0) mpvArgs.push(`--mpv-arg=--ao-null-speed=${(1 + driftPpm / 1e6).toFixed(4)}`);
    specs.push({ name: `m${i}`, driftPpm, mpvArgs });
  }
  return specs;
}

function readTelemetry(path: string): TelemetryLine[] {
  if (!existsSync(path)) return [];
  const out: TelemetryLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as TelemetryLine;
      if (typeof r.localMs === 'number' && typeof r.audioPtsSec === 'number') out.push(r);
    } catch {
      /* a torn last line */
    }
  }
  return out;
}

async function runScenario(scenario: ScenarioName, opts: Options, resultsDir: string): Promise<ScenarioResult> {
  const wallStart = monotonicMs();
  const loadStart = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-bench-'));
  const sock = join(tmp, 'leader.sock');
  const specs = memberSpecs(scenario, opts.members);
  const names = specs.map((s) => s.name);
  const durationMs = opts.durationSec * 1000;
  const log = (m: string): void => void process.stderr.write(`[${scenario}] ${m}\n`);

  const leaderArgs = ['bin/syncplay', 'leader', '--music-dir', 'playlists', '--host', '127.0.0.1', '--port', '0', '--socket', sock, '--no-ui'];
  const leader = spawnChild('leader', leaderArgs, join(tmp, 'leader.log'));
  const members: Child[] = [];
  const memberDeaths: string[] = [];
  const orphansKilled: number[] = [];
  const uncleanStops: string[] = [];
  const snapshots: Snapshot[] = [];
  const timelines = new Map<string, Timeline>();
  let tracks: LeaderStatus['tracks'] = [];
  let playTl: Timeline | null = null;
  let seekTl: Timeline | null = null;
  let playIssuedAt = 0;
  let seekIssuedAt = 0;
  let finalStatus: LeaderStatus | null = null;

  const record = (st: LeaderStatus): void => {
    timelines.set(JSON.stringify(st.timeline), st.timeline);
    snapshots.push({
      t: st.now,
      members: st.members.map((m) => ({ name: m.name, connected: m.connected, errorMs: m.errorMs, speed: m.speed, hardSeeks: m.hardSeeks, playerState: m.playerState, clockOffsetMs: m.clockOffsetMs, rttMs: m.rttMs, clockSkewPpm: m.clockSkewPpm, trackIndex: m.trackIndex })),
    });
  };

  try {
    const st0 = await waitFor('the leader control socket', 20_000, [leader], async () => (existsSync(sock) ? status(sock) : null));
    tracks = st0.tracks;
    timelines.set(JSON.stringify(st0.timeline), st0.timeline);
    const port = st0.listening.port;
    log(`leader pid ${leader.pid} on 127.0.0.1:${port}; ${tracks.length} tracks (${tracks.map((t) => t.durationSec.toFixed(1)).join(' + ')} s)`);

    for (const s of specs) {
      const args = ['bin/syncplay', 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', 'playlists', '--name', s.name, ...s.mpvArgs, '--telemetry', join(tmp, `${s.name}.jsonl`)];
      members.push(spawnChild(s.name, args, join(tmp, `${s.name}.log`)));
    }
    log(`members ${members.map((m) => `${m.name} pid ${m.pid}`).join(', ')}; waiting for their clocks and files`);

    await waitFor('every member connected with a clock estimate and checked files', 60_000, [leader, ...members], async () => {
      const st = await status(sock);
      const ready = st.members.filter((m) => names.includes(m.name) && m.connected && m.rttMs !== null && m.fileStatus === 'ok');
      return ready.length === names.length ? st : null;
    });

    playIssuedAt = monotonicMs();
    const playReply = await control({ cmd: 'play' }, sock);
    if (!playReply.ok) throw new Error(`play failed: ${String(playReply.error)}`);
    playTl = playReply.timeline as Timeline;
    timelines.set(JSON.stringify(playTl), playTl);
    log(`PLAY → timeline #${playTl.seq} at +${(playTl.at - playIssuedAt).toFixed(0)} ms`);

    const endMs = playTl.at + durationMs;
    const seekIssueMs = playTl.at + durationMs / 2;
    const dead = new Set<string>();
    while (monotonicMs() < endMs) {
      if (interrupted) throw new Error('interrupted');
      assertAlive([leader]);
      for (const m of members) {
        if (m.exited && !dead.has(m.name)) {
          dead.add(m.name);
          memberDeaths.push(`${m.name} exited at +${((monotonicMs() - playTl.at) / 1000).toFixed(1)} s (code ${m.exitCode ?? '—'}, signal ${m.exitSignal ?? '—'})`);
          log(`member ${m.name} died:\n${logTail(m)}`);
        }
      }
      if (!seekTl && monotonicMs() >= seekIssueMs) {
        seekIssuedAt = monotonicMs();
        const reply = await control({ cmd: 'seek', seconds: opts.seekToSec, relative: false }, sock);
        if (!reply.ok) throw new Error(`seek failed: ${String(reply.error)}`);
        seekTl = reply.timeline as Timeline;
        timelines.set(JSON.stringify(seekTl), seekTl);
        log(`SEEK ${opts.seekToSec} s → timeline #${seekTl.seq} at +${(seekTl.at - seekIssuedAt).toFixed(0)} ms`);
      }
      try {
        record(await status(sock));
      } catch (e) {
        log(`status: ${(e as Error).message}`);
      }
      const next = seekTl ? endMs : Math.min(endMs, seekIssueMs);
      await sleep(Math.min(500, next - monotonicMs()));
    }
    finalStatus = await status(sock);
    record(finalStatus);
  } finally {
    for (const m of members) {
      const r = await stopChild(m);
      if (!r.clean) uncleanStops.push(m.name);
      orphansKilled.push(...r.orphans);
    }
    const r = await stopChild(leader);
    if (!r.clean) uncleanStops.push('leader');
    orphansKilled.push(...r.orphans);
    // keep the raw material next to the results
    const keep = join(resultsDir, scenario);
    mkdirSync(keep, { recursive: true });
    for (const f of readdirSync(tmp)) if (f.endsWith('.log') || f.endsWith('.jsonl')) copyFileSync(join(tmp, f), join(keep, f));
    if (!opts.keepTmp) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
  if (!playTl || !seekTl || !finalStatus) throw new Error('the run did not complete');

  // ----- analysis
  const lines = specs.flatMap((s) => readTelemetry(join(resultsDir, scenario, `${s.name}.jsonl`)));
  const tls = [...timelines.values()].sort((a, b) => a.seq - b.seq || a.at - b.at);
  const { series, unmatched } = trueErrors(lines, tls, tracks);
  const endMs = playTl.at + durationMs;
  const boundaries = trackBoundaries(tls, tracks, endMs);
  const instants = [playTl.at, seekTl.at];

  const commandResults: CommandResult[] = [];
  for (const [kind, tl, issuedAt, until] of [
    ['play', playTl, playIssuedAt, seekTl.at],
    ['seek', seekTl, seekIssuedAt, endMs],
  ] as const) {
    const perMember: Record<string, number | null> = {};
    for (const n of names) perMember[n] = convergence(series, [n], tl.at, until, CONVERGED_MS).ms;
    commandResults.push({
      kind,
      issuedAt,
      timeline: tl,
      untilMs: until,
      converged: convergence(series, names, tl.at, until, CONVERGED_MS),
      convergedTight: convergence(series, names, tl.at, until, CONVERGED_TIGHT_MS),
      perMember,
    });
  }
  // Steady state: from convergence (or, failing that, the convergence target) to the next command.
  const windows: Window[] = commandResults.map((c) => ({ from: c.timeline.at + (c.converged.ms ?? TARGET.convergenceMs), to: c.untilMs }));
  const excluded = [...instants, ...boundaries];
  const steady = (t: number): boolean => inSteady(t, windows, excluded, EXCLUDE_MARGIN_MS);

  const points = grid(series, names, playTl.at, endMs).filter((p) => steady(p.t));
  const spreads = points.map((p) => Math.max(...p.errs) - Math.min(...p.errs));
  const spreadMs = stats(spreads);

  const memberResults: MemberResult[] = specs.map((s) => {
    const all = (series.get(s.name) ?? []).filter((r) => r.t >= playTl!.at && r.t < endMs);
    const st = all.filter((r) => steady(r.t));
    const view = finalStatus!.members.find((m) => m.name === s.name);
    const states = [...new Set(snapshots.flatMap((sn) => sn.members.filter((m) => m.name === s.name).map((m) => m.playerState)))];
    const mean = (v: number[]): number | null => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
    return {
      name: s.name,
      driftPpm: s.driftPpm,
      readings: all.length,
      steadyReadings: st.length,
      absTrueErrMs: stats(st.map((r) => Math.abs(r.trueErrMs))),
      meanTrueErrMs: mean(st.map((r) => r.trueErrMs)),
      absTrueErrAllMs: stats(all.map((r) => Math.abs(r.trueErrMs))),
      absEstErrMs: stats(st.map((r) => Math.abs(r.estErrMs))),
      absEstMinusTrueMs: stats(st.map((r) => Math.abs(r.estErrMs - r.trueErrMs))),
      meanClockErrMs: mean(all.map((r) => r.clockErrMs)),
      absClockErrMs: stats(all.map((r) => Math.abs(r.clockErrMs))),
      steadySpeedMean: mean(st.map((r) => r.speed)),
      readingNoiseMs: readingNoiseMs(all, steady),
      initialErrPlayMs: all.find((r) => r.t >= playTl!.at)?.trueErrMs ?? null,
      initialErrSeekMs: all.find((r) => r.t >= seekTl!.at)?.trueErrMs ?? null,
      ipcRttMs: stats(all.map((r) => r.ipcRttMs)),
      hardSeeks: view?.hardSeeks ?? null,
      finalSpeed: view?.speed ?? null,
      steadySpeedMin: st.length ? Math.min(...st.map((r) => r.speed)) : null,
      steadySpeedMax: st.length ? Math.max(...st.map((r) => r.speed)) : null,
      convergencePlayMs: commandResults[0]!.perMember[s.name] ?? null,
      convergenceSeekMs: commandResults[1]!.perMember[s.name] ?? null,
      playerStates: states,
    };
  });

  const convAll = commandResults.map((c) => c.converged.ms);
  const spreadPass = spreadMs.p95 !== null && spreadMs.max !== null && spreadMs.p95 <= TARGET.spreadP95Ms && spreadMs.max <= TARGET.spreadMaxMs;
  const convPass = convAll.every((ms) => ms !== null && ms <= TARGET.convergenceMs);
  return {
    scenario,
    durationSec: opts.durationSec,
    commands: { leader: leader.command, members: members.map((m) => m.command) },
    tracks: tracks.map((t) => ({ title: t.title, durationSec: t.durationSec })),
    timelines: tls,
    boundaries,
    playAt: playTl.at,
    endMs,
    spreadMs,
    spreadSmoothedMs: stats(smoothedSpreads(points, 500)),
    loadAvg: { start: loadStart, end: loadavg() },
    ipcRttMs: stats([...series.values()].flat().filter((r) => r.t >= playTl!.at && r.t < endMs).map((r) => r.ipcRttMs)),
    unmatchedReadings: unmatched,
    spreadOver1Ms: spreads.filter((s) => s > 1).length,
    spreadOver3Ms: spreads.filter((s) => s > 3).length,
    commandResults,
    convergenceAllMembersMs: stats(commandResults.flatMap((c) => Object.values(c.perMember).map((v) => v ?? Infinity))),
    members: memberResults,
    pass: { spread: spreadPass, convergence: convPass, all: spreadPass && convPass && memberDeaths.length === 0 },
    memberDeaths,
    orphansKilled,
    uncleanStops,
    snapshots,
    wallSec: (monotonicMs() - wallStart) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const f = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined ? '—' : !Number.isFinite(v) ? '∞' : v.toFixed(digits));
const sec = (ms: number | null | undefined): string => (ms === null || ms === undefined ? 'never' : !Number.isFinite(ms) ? 'never' : `${(ms / 1000).toFixed(2)} s`);
const pf = (ok: boolean): string => (ok ? 'PASS' : '**FAIL**');
const ppm = (n: number): string => (n === 0 ? '0' : `${n > 0 ? '+' : ''}${n} ppm`);

function report(r: ScenarioResult, opts: Options): string {
  const out: string[] = [];
  const rel = (t: number): string => `+${((t - r.playAt) / 1000).toFixed(2)} s`;
  out.push(`### ${r.scenario} — ${r.durationSec} s from PLAY, ${r.members.length} members (${r.members.map((m) => `${m.name} ${ppm(m.driftPpm)}`).join(', ')})`);
  out.push('');
  out.push(`PLAY at ${rel(r.playAt)}, SEEK to ${opts.seekToSec} s at ${rel(r.commandResults[1]!.timeline.at)}; track boundaries at ${r.boundaries.map(rel).join(', ') || 'none'}. Steady state = from convergence to the next command, without ±${EXCLUDE_MARGIN_MS / 1000} s around commands and boundaries.`);
  out.push('');
  out.push('| metric | p50 | p95 | max | n | target | result |');
  out.push('|---|---:|---:|---:|---:|---|---|');
  out.push(`| inter-member spread, ms (100 ms grid) | ${f(r.spreadMs.p50)} | ${f(r.spreadMs.p95)} | ${f(r.spreadMs.max)} | ${r.spreadMs.n} | p95 ≤ ${TARGET.spreadP95Ms}, max ≤ ${TARGET.spreadMaxMs} | ${pf(r.pass.spread)} |`);
  out.push(`| same, each member's error averaged over 1 s first (reading noise removed), ms | ${f(r.spreadSmoothedMs.p50)} | ${f(r.spreadSmoothedMs.p95)} | ${f(r.spreadSmoothedMs.max)} | ${r.spreadSmoothedMs.n} | (info) | |`);
  for (const c of r.commandResults) {
    const ok = c.converged.ms !== null && c.converged.ms <= TARGET.convergenceMs;
    out.push(`| convergence after ${c.kind.toUpperCase()}, all ≤ ${CONVERGED_MS} ms / ≤ ${CONVERGED_TIGHT_MS} ms | ${sec(c.converged.ms)} / ${sec(c.convergedTight.ms)} | | | | ≤ ${TARGET.convergenceMs / 1000} s | ${pf(ok)} |`);
  }
  const cs = r.convergenceAllMembersMs;
  out.push(`| convergence per member and command (≤ ${CONVERGED_MS} ms), s | ${f(cs.p50 === null ? null : cs.p50 / 1000, 2)} | ${f(cs.p95 === null ? null : cs.p95 / 1000, 2)} | ${f(cs.max === null ? null : cs.max / 1000, 2)} | ${cs.n} | | |`);
  for (const m of r.members) {
    out.push(`| ${m.name} \\|true error\\|, ms | ${f(m.absTrueErrMs.p50)} | ${f(m.absTrueErrMs.p95)} | ${f(m.absTrueErrMs.max)} | ${m.absTrueErrMs.n} | | |`);
  }
  out.push(`| IPC round trip of accepted readings, ms | ${f(r.ipcRttMs.p50)} | ${f(r.ipcRttMs.p95)} | ${f(r.ipcRttMs.max)} | ${r.ipcRttMs.n} | | |`);
  out.push('');
  out.push('| member | drift | readings (steady) | mean true err ms | \\|true err\\| max, all readings ms | \\|est err\\| p50 / p95 ms | \\|est − true\\| p50 / p95 ms | clock est. err mean / max\\|.\\| ms | IPC rtt p50 / p95 ms | reading noise ms | first error after PLAY / SEEK ms | conv. PLAY / SEEK | hard seeks | final speed | steady speed mean (range) |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const m of r.members) {
    out.push(
      `| ${m.name} | ${ppm(m.driftPpm)} | ${m.readings} (${m.steadyReadings}) | ${f(m.meanTrueErrMs)} | ${f(m.absTrueErrAllMs.max)} | ${f(m.absEstErrMs.p50)} / ${f(m.absEstErrMs.p95)} | ${f(m.absEstMinusTrueMs.p50)} / ${f(m.absEstMinusTrueMs.p95)} | ${f(m.meanClockErrMs)} / ${f(m.absClockErrMs.max)} | ${f(m.ipcRttMs.p50)} / ${f(m.ipcRttMs.p95)} | ${f(m.readingNoiseMs)} | ${f(m.initialErrPlayMs, 2)} / ${f(m.initialErrSeekMs, 2)} | ${sec(m.convergencePlayMs)} / ${sec(m.convergenceSeekMs)} | ${m.hardSeeks ?? '—'} | ${m.finalSpeed === null ? '—' : m.finalSpeed.toFixed(6)} | ${m.steadySpeedMean === null ? '—' : `${m.steadySpeedMean.toFixed(6)} (${m.steadySpeedMin!.toFixed(6)}–${m.steadySpeedMax!.toFixed(6)})`} |`,
    );
  }
  const notes: string[] = [];
  if (r.spreadOver1Ms) notes.push(`${r.spreadOver1Ms} steady grid points with spread > 1 ms (${r.spreadOver3Ms} > 3 ms)`);
  const load = Math.max(r.loadAvg.start[0]!, r.loadAvg.end[0]!);
  if (load > availableParallelism()) notes.push(`the machine was overloaded (1-min load average up to ${load.toFixed(1)} on ${availableParallelism()} CPUs): mpv and the members compete for CPU, so late starts, underruns and noisy readings are expected`);
  if (r.unmatchedReadings) notes.push(`${r.unmatchedReadings} readings were of a track neither at nor next to the timeline's (left out)`);
  if (r.memberDeaths.length) notes.push(`member deaths: ${r.memberDeaths.join('; ')}`);
  if (r.uncleanStops.length) notes.push(`needed SIGKILL: ${r.uncleanStops.join(', ')}`);
  if (r.orphansKilled.length) notes.push(`killed ${r.orphansKilled.length} leftover mpv process(es) by PID`);
  const hard = r.members.reduce((a, m) => a + (m.hardSeeks ?? 0), 0);
  if (hard) notes.push(`${hard} hard seek(s)`);
  for (const m of r.members) if (m.readings < 0.5 * (r.durationSec * 10)) notes.push(`${m.name}: only ${m.readings} readings in ${r.durationSec} s (expected ~${r.durationSec * 10})`);
  if (notes.length) {
    out.push('');
    for (const n of notes) out.push(`- ${n}`);
  }
  out.push('');
  out.push(`${pf(r.pass.all)} — ${r.scenario} (run took ${r.wallSec.toFixed(0)} s; load average ${r.loadAvg.start[0]!.toFixed(2)} → ${r.loadAvg.end[0]!.toFixed(2)} on ${availableParallelism()} CPUs)`);
  return out.join('\n');
}

function summary(results: ScenarioResult[]): string {
  const out: string[] = [];
  out.push('### Summary');
  out.push('');
  out.push(`| scenario | spread p50 / p95 / max ms | conv. PLAY / SEEK (≤ ${CONVERGED_MS} ms) | conv. PLAY / SEEK (≤ ${CONVERGED_TIGHT_MS} ms) | worst \\|true err\\| p95 / max ms | hard seeks | result |`);
  out.push('|---|---|---|---|---|---:|---|');
  for (const r of results) {
    const [p, s] = r.commandResults;
    const p95 = Math.max(...r.members.map((m) => m.absTrueErrMs.p95 ?? NaN));
    const max = Math.max(...r.members.map((m) => m.absTrueErrMs.max ?? NaN));
    out.push(
      `| ${r.scenario} | ${f(r.spreadMs.p50)} / ${f(r.spreadMs.p95)} / ${f(r.spreadMs.max)} | ${sec(p!.converged.ms)} / ${sec(s!.converged.ms)} | ${sec(p!.convergedTight.ms)} / ${sec(s!.convergedTight.ms)} | ${f(p95)} / ${f(max)} | ${r.members.reduce((a, m) => a + (m.hardSeeks ?? 0), 0)} | ${pf(r.pass.all)} |`,
    );
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const started = monotonicMs();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsRoot = join(root, 'bench', 'results');
  const resultsDir = join(resultsRoot, `sync-${stamp}`);
  mkdirSync(resultsDir, { recursive: true });
  const benchCommand = ['node', 'dist/bench/sync-bench.js', ...process.argv.slice(2)].map(shellQuote).join(' ');

  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  for (const scenario of opts.scenarios) {
    if (interrupted) break;
    try {
      results.push(await runScenario(scenario, opts, resultsDir));
    } catch (e) {
      failures.push(`${scenario}: ${(e as Error).message}`);
      process.stderr.write(`[${scenario}] failed: ${(e as Error).message}\n`);
    }
  }
  const totalSec = (monotonicMs() - started) / 1000;

  const text: string[] = [];
  text.push(`## syncplay sync benchmark`);
  text.push('');
  text.push('```');
  text.push(`$ ${benchCommand}`);
  if (results[0]) {
    for (const r of results) {
      text.push(`# ${r.scenario}:`);
      text.push(r.commands.leader);
      for (const m of r.commands.members) text.push(m);
    }
  }
  text.push('```');
  text.push('');
  for (const r of results) {
    text.push(report(r, opts));
    text.push('');
  }
  if (results.length) text.push(summary(results));
  for (const fl of failures) text.push(`\n**FAILED TO RUN** ${fl}`);
  text.push('');
  text.push(`Total time ${totalSec.toFixed(0)} s. Results: ${join('bench', 'results', `sync-${stamp}.json`)} (telemetry and logs in ${join('bench', 'results', `sync-${stamp}`)}/).`);
  process.stdout.write(text.join('\n') + '\n');

  writeFileSync(
    join(resultsRoot, `sync-${stamp}.json`),
    JSON.stringify({ command: benchCommand, startedAt: new Date(Date.now() - totalSec * 1000).toISOString(), totalSec, targets: TARGET, options: opts, failures, results, markdown: text.join('\n') }, null, 2) + '\n',
  );
  return failures.length === 0 && results.every((r) => r.pass.all) ? 0 : 1;
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
