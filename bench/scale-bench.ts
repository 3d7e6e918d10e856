/**
 * Scale benchmark: one real leader process and N protocol-level simulated members
 * (bench/sim-member.ts, no mpv) in a few separate Node processes on this machine.
 *
 *   node dist/bench/scale-bench.js [--members 500] [--ramp 100,200,500,1000] [--steady 20] [--rounds 5] [--cpu-prof]
 *
 * Per member count: start the leader (--port 0, a private control socket and state file), start
 * the simulated members (joining at --join-rate per second), wait until all are joined and past
 * their burst of time exchanges, then
 *   1. steady state (--steady s, no commands): the leader's CPU from /proc/<pid>/stat
 *      (utime + stime), the time-exchange round trip and heartbeat delivery seen by the members;
 *   2. commands: --rounds × (play track 1, seek 10, next) through the control socket. Every
 *      process reads the same CLOCK_MONOTONIC and the leader's shared clock is its monotonic
 *      clock, so each member's arrival time of the new timeline compares directly with the
 *      instant just before sendControl was called (fan-out) and with the timeline's `at`
 *      (did it arrive before its instant?);
 *   3. the leader's peak RSS (VmHWM).
 * "Stops coping": fan-out p95 > 20 ms, a command arriving after its instant, leader CPU > 100 %
 * of one core, or members dropped or missing a command.
 *
 * Prints a markdown table (with the load average), writes JSON to bench/results/scale-<time>.json.
 * Only the processes it started are stopped, by PID (SIGTERM, then SIGKILL), also on errors and
 * Ctrl-C. With --cpu-prof the leader runs under `node --cpu-prof` and the report lists where its
 * steady-state CPU time goes (self and inclusive, by function).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { raiseThreads } from '../src/member/priority.js';
import { assertAlive, children, killChildrenNow, shellQuote, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import type { ControlRequest } from '../src/leader/control-server.js';
import type { Timeline } from '../src/protocol/messages.js';
import type { CollectReply, SimProgress, WindowSamples } from './sim-member.js';
import { benchArgs, numberOption, type BenchOptions } from './args.js';
import { percentile } from './stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const simScript = join(dirname(fileURLToPath(import.meta.url)), 'sim-member.js');

// ---------------------------------------------------------------------------------------------
// Targets

const TARGET = { members: 500, fanoutP95Ms: 20, leaderCpuPct: 25 } as const;
const COPING = { fanoutP95Ms: 20, leaderCpuPct: 100 } as const;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  counts: number[];
  procs: number | null;
  steadySec: number;
  rounds: number;
  joinRate: number;
  settleSec: number;
  cpuProf: boolean;
  keepTmp: boolean;
  commandGapMs: number;
  /** no party secret: lines travel untagged (default: a secret, every line tagged, as users run it) */
  open: boolean;
  /** nice value for the leader's threads (null: as started) */
  leaderNice: number | null;
  /** nice value for the simulated members' threads (null: as started) */
  simNice: number | null;
  /** members exchange time at their own rate, not the pace the leader asks for */
  ignorePace: boolean;
}

const OPTIONS = {
  members: { type: 'string', value: 'n', help: 'simulated members (default 500)' },
  ramp: { type: 'string', value: 'n,n,...', help: 'run several member counts in turn, e.g. 100,200,500,1000' },
  procs: { type: 'string', value: 'p', help: 'processes hosting the simulated members (default: one per 250 members, at most 4)' },
  steady: { type: 'string', value: 's', help: 'steady-state window for CPU and round trips (default 20)' },
  rounds: { type: 'string', value: 'r', help: 'rounds of play, seek, next (default 5)' },
  'join-rate': { type: 'string', value: 'n', help: 'members joining per second, all processes together (default 250)' },
  settle: { type: 'string', value: 's', help: 'wait after the last burst before measuring (default 3)' },
  'cpu-prof': { type: 'boolean', help: 'run the leader under node --cpu-prof and report where its time goes' },
  'keep-tmp': { type: 'boolean', help: 'keep the temporary directory (logs, profiles)' },
  open: { type: 'boolean', help: 'no party secret (default: a secret; every line both ways tagged and verified)' },
  'leader-nice': { type: 'string', value: 'n', help: "run the leader's threads at this nice value once it listens (where permitted it raises itself to −10 at start: --leader-nice=0 runs it at normal priority; raising it needs the privilege)" },
  'ignore-pace': { type: 'boolean', help: "members exchange time at their own 2 Hz, ignoring the slower pace the leader asks for in a large party (the schedule before leaders paced)" },
  'sim-nice': { type: 'string', value: 'n', help: "the same for the simulated members and this process, which issues and stamps the commands (the meter: on a shared machine, others' load must not starve it)" },
} as const satisfies BenchOptions;

function niceValue(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new Error(`${flag} needs an integer -20…19, got ${value}`);
  return n;
}

export function parseArgs(argv: string[]): Options {
  const { values: v } = benchArgs('node dist/bench/scale-bench.js [options]', OPTIONS, { argv });
  const whole = (flag: string, value: string | undefined, fallback: number): number => Math.round(numberOption(flag, value, fallback));
  const counts = v.ramp !== undefined ? v.ramp.split(',').map((s) => whole('--ramp', s.trim(), NaN)) : [whole('--members', v.members, 500)];
  if (counts.length === 0) throw new Error('--ramp needs member counts like 100,200,500');
  return {
    counts,
    procs: v.procs === undefined ? null : whole('--procs', v.procs, 0),
    steadySec: numberOption('--steady', v.steady, 20),
    rounds: whole('--rounds', v.rounds, 5),
    joinRate: numberOption('--join-rate', v['join-rate'], 250),
    settleSec: numberOption('--settle', v.settle, 3, 0),
    cpuProf: v['cpu-prof'] ?? false,
    keepTmp: v['keep-tmp'] ?? false,
    commandGapMs: 1000,
    open: v.open ?? false,
    leaderNice: v['leader-nice'] === undefined ? null : niceValue('--leader-nice', v['leader-nice']),
    simNice: v['sim-nice'] === undefined ? null : niceValue('--sim-nice', v['sim-nice']),
    ignorePace: v['ignore-pace'] ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes: ours only, killed by PID, always

function spawnNode(name: string, args: string[], logPath: string, ipc = false): Child {
  const command = ['node', ...args.map((a) => (a.startsWith(root) ? relative(root, a) || '.' : a))].map(shellQuote).join(' ');
  return spawnChild(name, args, logPath, { cwd: root, ipc, command });
}

async function stopAll(): Promise<void> {
  const list = [...children].sort((a, b) => Number(a.name === 'leader') - Number(b.name === 'leader'));
  for (const c of list) await stopChild(c, 3000);
}

let interrupted = false;
/** the running step's temporary directory, removed on Ctrl-C too (unless --keep-tmp) */
let currentTmp: { path: string; keep: boolean } | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nscale-bench: ${sig}: stopping the leader and the simulated members\n`);
    void stopAll().finally(() => {
      if (currentTmp && !currentTmp.keep) rmSync(currentTmp.path, { recursive: true, force: true });
      process.exit(130);
    });
  });
}
process.on('exit', killChildrenNow);

// ---------------------------------------------------------------------------------------------
// Measuring: clock, /proc, statistics

function nowMs(): number {
  const ns = process.hrtime.bigint();
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/** USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux this runs on. */
const CLK_TCK = 100;

/** utime and stime of a process, ms of CPU. */
function cpuTimes(pid: number): { user: number; system: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(fields[11]) * 1000) / CLK_TCK, system: (Number(fields[12]) * 1000) / CLK_TCK };
  } catch {
    return null;
  }
}

/** utime + stime of a process, ms of CPU. */
function cpuMs(pid: number): number | null {
  const t = cpuTimes(pid);
  return t === null ? null : t.user + t.system;
}

function statusKb(pid: number, key: string): number | null {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Whole-machine busy share from /proc/stat (all CPUs). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((s, x) => s + x, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export interface Stats {
  n: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  min: number | null;
  mean: number | null;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) return { n: 0, p50: null, p95: null, max: null, min: null, mean: null };
  const a = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of a) sum += v;
  return { n: a.length, p50: percentile(a, 50), p95: percentile(a, 95), max: a[a.length - 1]!, min: a[0]!, mean: sum / a.length };
}

// ---------------------------------------------------------------------------------------------
// CPU profile analysis

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  fn: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  windowMs: number;
  sampledMs: number;
  idlePct: number;
  self: ProfileEntry[];
  inclusive: ProfileEntry[];
  /** inclusive time of this project's own functions (dist/src) */
  project: ProfileEntry[];
}

function frameKey(f: ProfileNode['callFrame']): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const url = f.url.replace(/^file:\/\//, '');
  const short = url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : url.startsWith(root) ? relative(root, url) : url.replace(/^node:/, 'node:');
  return `${name} ${short}:${f.lineNumber + 1}`;
}

/**
 * Self and inclusive time per function inside [fromMs, toMs) of the monotonic clock (V8's
 * profile timestamps are CLOCK_MONOTONIC microseconds on Linux, as process.hrtime is).
 */
export function analyzeProfile(file: string, fromMs: number, toMs: number, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = p.startTime;
  let sampled = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const ms = t / 1000;
    if (ms < fromMs || ms >= toMs) continue;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    sampled += dt;
    const key = frameKey(node.callFrame);
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = frameKey(byId.get(id)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const windowMs = toMs - fromMs;
  const list = (m: Map<string, number>, n = top): ProfileEntry[] =>
    [...m.entries()]
      .filter(([k]) => k !== '(root)' && k !== '(program)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, ms]) => ({ fn, ms, pct: (100 * ms) / windowMs }));
  const program = self.get('(program)') ?? 0;
  const selfList = list(self);
  if (program > 0) selfList.push({ fn: '(program: V8/native outside JS, incl. I/O syscalls)', ms: program, pct: (100 * program) / windowMs });
  const projectIncl = new Map([...incl].filter(([k]) => k.includes(' dist/src/')));
  return { file, windowMs, sampledMs: sampled, idlePct: (100 * idle) / windowMs, self: selfList.sort((a, b) => b.ms - a.ms), inclusive: list(incl), project: list(projectIncl, 15) };
}

// ---------------------------------------------------------------------------------------------
// One run: a leader and N simulated members

interface CommandRecord {
  kind: string;
  request: ControlRequest;
  issuedAt: number;
  repliedAt: number;
  ok: boolean;
  error?: string;
  timeline: Timeline | null;
}

interface CommandResult {
  kind: string;
  seq: number | null;
  /** ms from issue to the timeline's instant */
  leadMs: number | null;
  controlRoundTripMs: number;
  received: number;
  missing: number;
  late: number;
  fanoutMs: Stats;
  /** arrival − the first member's arrival: the leader's and the receivers' per-member cost, without wake-up latency */
  spreadMs: Stats;
  /** ms the last member had left before the instant (negative = late) */
  minSlackMs: number | null;
  viaHeartbeat: number;
  /** the leader's own time to tag and write the timeline to every member (its log: "sent to N in X ms"), when it reports it */
  leaderSendMs: number | null;
  /** the CPU time the leader spent in that loop (what it costs, whatever else runs on the machine) */
  leaderSendCpuMs: number | null;
}

interface ProcCpu {
  name: string;
  pid: number;
  cpuPct: number | null;
}

export interface StepResult {
  members: number;
  procs: number;
  commands: { leader: string; sims: string[] };
  joinedAtStart: number;
  joinedAtEnd: number;
  /** per-line tags (null: --open): lines the members verified, and lines that failed */
  lineAuth: { verifiedLines: number; tagFailures: number } | null;
  /** joins the leader answered "busy" (too many handshakes pending), retried by the members */
  busyRetries: number;
  dropped: number;
  dropReasons: string[];
  errorsFromLeader: { code: string; message: string }[];
  joinSec: number;
  steady: {
    windowSec: number;
    leaderCpuPct: number | null;
    /** the same split into user and kernel (system) time */
    leaderUserPct: number | null;
    leaderSystemPct: number | null;
    simCpu: ProcCpu[];
    machineBusyPct: number | null;
    rttMs: Stats;
    heartbeatLatencyMs: Stats;
    maxHeartbeatGapMs: number;
    exchangesPerSec: number;
    statusPerSec: number;
    exchangesUnanswered: number;
    /** |error| of the real clock estimate at every 25th member, sampled each second */
    clockErrorMs: Stats;
  };
  commandPhase: { windowSec: number; leaderCpuPct: number | null; rttMs: Stats; heartbeatLatencyMs: Stats };
  commandResults: CommandResult[];
  fanoutMs: Stats;
  /** the median over commands of each command's fan-out p95: robust to one command hit by a scheduling hiccup */
  fanoutMedianCommandP95Ms: number | null;
  spreadMs: Stats;
  /** control round trips of the idle leader before any member joined: this machine's wake-up latency floor */
  idleCtlRoundTripMs: Stats;
  lateTotal: number;
  missingTotal: number;
  leaderPeakRssMb: number | null;
  leaderRssMb: number | null;
  loadAvg: { start: number[]; end: number[] };
  copes: boolean;
  copingProblems: string[];
  meetsTarget: boolean | null;
  profile: ProfileSummary | null;
  wallSec: number;
}

interface Sim {
  child: Child;
  count: number;
  progress: SimProgress | null;
  collected: CollectReply | null;
  waiters: ((r: CollectReply) => void)[];
}

async function waitFor(what: string, timeoutMs: number, watch: readonly Child[], probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    if (interrupted) throw new Error('interrupted');
    assertAlive(watch);
    if (await probe()) return;
    if (nowMs() > deadline) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
    await sleep(100);
  }
}

function defaultProcs(n: number): number {
  return Math.min(4, Math.max(1, Math.ceil(n / 250)));
}

async function runStep(n: number, o: Options, resultsDir: string): Promise<StepResult> {
  const wallStart = nowMs();
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-scale-'));
  currentTmp = { path: tmp, keep: o.keepTmp };
  const loadStart = loadavg();
  const procs = o.procs ?? defaultProcs(n);
  try {
    // --- the leader
    const sock = join(tmp, 'l.sock');
    const profDir = join(tmp, 'prof');
    const nodeFlags = o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
    const secretFile = join(tmp, 'party-secret');
    if (!o.open) writeFileSync(secretFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    const access = o.open ? ['--open'] : ['--secret-file', secretFile, '--state-dir', join(tmp, 'state')];
    const leaderArgs = [...nodeFlags, join(root, 'bin', 'syncplay'), 'leader', '--music-dir', join(root, 'playlists'), '--host', '127.0.0.1', '--port', '0', '--no-ui', '--no-web', '--socket', sock, '--state-file', join(tmp, 's.json'), ...access, '--no-advertise', '--max-members', String(n + 16), '--max-connections', String(n + 64)];
    const leaderLog = join(tmp, 'leader.log');
    const leader = spawnNode('leader', leaderArgs, leaderLog);
    if (o.leaderNice !== null && !raiseThreads(leader.pid, o.leaderNice)) throw new Error(`cannot set the leader's nice value to ${o.leaderNice} (not permitted)`);
    let port = 0;
    await waitFor('the leader to listen', 20_000, [leader], () => {
      const m = /leader listening on [^\s]+:(\d+)/.exec(existsSync(leaderLog) ? readFileSync(leaderLog, 'utf8') : '');
      if (m) port = Number(m[1]);
      return port > 0;
    });
    await waitFor('the control socket', 10_000, [leader], async () => {
      try {
        return (await sendControl({ cmd: 'status' }, sock, 2000)).ok === true;
      } catch {
        return false;
      }
    });

    // --- the machine's floor: control round trips of an idle leader (no members yet)
    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) {
      const a = nowMs();
      await sendControl({ cmd: 'status' }, sock, 5000);
      baseline.push(nowMs() - a);
      await sleep(50);
    }

    // --- the simulated members
    const sims: Sim[] = [];
    const perProc = Math.floor(n / procs);
    for (let p = 0; p < procs; p++) {
      const count = p === procs - 1 ? n - perProc * (procs - 1) : perProc;
      const args = [simScript, '--host', '127.0.0.1', '--port', String(port), '--count', String(count), '--prefix', `sim${p}`, '--join-rate', String(o.joinRate / procs), ...(o.open ? [] : ['--secret-file', secretFile]), ...(o.ignorePace ? ['--ignore-pace'] : [])];
      const child = spawnNode(`sim${p}`, args, join(tmp, `sim${p}.log`), true);
      if (o.simNice !== null && !raiseThreads(child.pid, o.simNice)) throw new Error(`cannot set the simulated members' nice value to ${o.simNice} (not permitted)`);
      const sim: Sim = { child, count, progress: null, collected: null, waiters: [] };
      child.proc.on('message', (raw: unknown) => {
        const m = raw as SimProgress | CollectReply;
        if (m.type === 'progress') sim.progress = m;
        else if (m.type === 'collected') for (const w of sim.waiters.splice(0)) w(m);
      });
      sims.push(sim);
    }
    const all = [leader, ...sims.map((s) => s.child)];
    const joinStart = nowMs();
    const settledCount = (): number => sims.reduce((s, x) => s + (x.progress?.settled ?? 0), 0);
    const closedCount = (): number => sims.reduce((s, x) => s + (x.progress?.closed ?? 0), 0);
    await waitFor(`${n} members to join`, 60_000 + (n / o.joinRate) * 1000 * 4, all, () => {
      if (closedCount() > 0 && settledCount() + closedCount() >= n) return true;
      return settledCount() >= n;
    });
    const joinSec = (nowMs() - joinStart) / 1000;
    const joinedAtStart = settledCount();
    process.stderr.write(`  ${n} members joined in ${joinSec.toFixed(1)} s (${closedCount()} dropped); settling ${o.settleSec} s\n`);
    await sleep(o.settleSec * 1000);

    // --- steady state
    process.stderr.write(`  steady state: ${o.steadySec} s\n`);
    const cpu0 = cpuMs(leader.pid);
    const split0 = cpuTimes(leader.pid);
    const sim0 = sims.map((s) => cpuMs(s.child.pid));
    const mach0 = machineTicks();
    const steadyFrom = nowMs();
    await sleep(o.steadySec * 1000);
    assertAlive(all);
    const steadyTo = nowMs();
    const cpu1 = cpuMs(leader.pid);
    const split1 = cpuTimes(leader.pid);
    const sim1 = sims.map((s) => cpuMs(s.child.pid));
    const mach1 = machineTicks();
    const steadyMs = steadyTo - steadyFrom;
    const pct = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : (100 * (b - a)) / steadyMs);
    const leaderCpuPct = pct(cpu0, cpu1);
    const simCpu = sims.map((s, i) => ({ name: s.child.name, pid: s.child.pid, cpuPct: pct(sim0[i] ?? null, sim1[i] ?? null) }));
    const machineBusyPct = mach0 && mach1 && mach1.total > mach0.total ? (100 * (mach1.busy - mach0.busy)) / (mach1.total - mach0.total) : null;

    // --- commands
    process.stderr.write(`  commands: ${o.rounds} × (play, seek, next)\n`);
    const commandsFrom = nowMs();
    const cmdCpu0 = cpuMs(leader.pid);
    const records: CommandRecord[] = [];
    const plan: { kind: string; request: ControlRequest }[] = [];
    for (let r = 0; r < o.rounds; r++) {
      plan.push({ kind: 'play', request: { cmd: 'play', track: 1 } }, { kind: 'seek', request: { cmd: 'seek', seconds: 10 } }, { kind: 'next', request: { cmd: 'next' } });
    }
    for (const step of plan) {
      assertAlive(all);
      const issuedAt = nowMs();
      let reply: Record<string, unknown>;
      try {
        reply = await sendControl(step.request, sock, 10_000);
      } catch (e) {
        reply = { ok: false, error: (e as Error).message };
      }
      const repliedAt = nowMs();
      const timeline = reply.ok ? (reply.timeline as Timeline) : null;
      records.push({ kind: step.kind, request: step.request, issuedAt, repliedAt, ok: reply.ok === true, ...(reply.ok ? {} : { error: String(reply.error) }), timeline });
      // the next command after this one's instant, and at least commandGapMs after it was issued
      await sleep(Math.max(issuedAt + o.commandGapMs, (timeline?.at ?? 0) + 300) - nowMs());
    }
    const commandsTo = nowMs();
    const cmdCpu1 = cpuMs(leader.pid);

    // --- collect
    const windows = [
      { name: 'steady', from: steadyFrom, to: steadyTo },
      { name: 'commands', from: commandsFrom, to: commandsTo },
    ];
    const replies = await Promise.all(
      sims.map(
        (s) =>
          new Promise<CollectReply>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${s.child.name} did not answer collect`)), 30_000);
            s.waiters.push((r) => {
              clearTimeout(timer);
              resolve(r);
            });
            s.child.proc.send?.({ type: 'collect', windows });
          }),
      ),
    );
    const leaderPeakRss = statusKb(leader.pid, 'VmHWM');
    const leaderRss = statusKb(leader.pid, 'VmRSS');
    const loadEnd = loadavg();

    // --- stop: members first, then the leader (cleanly, so a CPU profile gets written)
    for (const s of sims) s.child.proc.send?.({ type: 'stop' });
    for (const s of sims) await stopChild(s.child, 5000);
    await stopChild(leader, 15_000);

    // --- analysis
    const arrivalsBySeq = new Map<number, { arrival: number; via: string; at: number }[]>();
    for (const r of replies) {
      for (const a of r.arrivals) {
        let list = arrivalsBySeq.get(a.seq);
        if (!list) arrivalsBySeq.set(a.seq, (list = []));
        list.push({ arrival: a.arrival, via: a.via, at: a.at });
      }
    }
    const joinedAtEnd = replies.reduce((s, r) => s + r.joined, 0);
    const closed = replies.flatMap((r) => r.closed);
    const allFanout: number[] = [];
    const allSpread: number[] = [];
    // The leader logs each command's send loop; in order, one per command that succeeded.
    const sendLoops = [...(existsSync(leaderLog) ? readFileSync(leaderLog, 'utf8') : '').matchAll(/\(sent to \d+ in ([\d.]+) ms, ([\d.]+) ms of CPU\)/g)].map((m) => ({ ms: Number(m[1]), cpuMs: Number(m[2]) }));
    let sendLoop = 0;
    const commandResults: CommandResult[] = records.map((rec) => {
      const seq = rec.timeline?.seq ?? null;
      const got = seq === null ? [] : (arrivalsBySeq.get(seq) ?? []);
      const fan = got.map((g) => g.arrival - rec.issuedAt);
      allFanout.push(...fan);
      const first = got.length ? Math.min(...got.map((g) => g.arrival)) : 0;
      const spread = got.map((g) => g.arrival - first);
      allSpread.push(...spread);
      const at = rec.timeline?.at ?? null;
      const slack = at === null ? [] : got.map((g) => at - g.arrival);
      // members connected when the command was issued
      const liveThen = n - closed.filter((c) => c.at < rec.issuedAt).length;
      return {
        kind: rec.kind + (rec.ok ? '' : ` (failed: ${rec.error})`),
        seq,
        leadMs: at === null ? null : at - rec.issuedAt,
        controlRoundTripMs: rec.repliedAt - rec.issuedAt,
        received: got.length,
        missing: rec.ok ? Math.max(0, liveThen - got.length) : 0,
        late: slack.filter((s) => s < 0).length,
        fanoutMs: stats(fan),
        spreadMs: stats(spread),
        minSlackMs: slack.length ? Math.min(...slack) : null,
        viaHeartbeat: got.filter((g) => g.via === 'heartbeat').length,
        ...((l) => ({ leaderSendMs: l?.ms ?? null, leaderSendCpuMs: l?.cpuMs ?? null }))(rec.ok ? sendLoops[sendLoop++] : undefined),
      };
    });
    const merge = (name: string, pick: (w: WindowSamples) => number[]): number[] => replies.flatMap((r) => r.windows.filter((w) => w.name === name).flatMap(pick));
    const steadyWin = replies.map((r) => r.windows.find((w) => w.name === 'steady')!);
    const sum = (f: (w: WindowSamples) => number): number => steadyWin.reduce((s, w) => s + f(w), 0);
    const fanoutMs = stats(allFanout);
    const fanoutMedianCommandP95Ms = stats(commandResults.flatMap((c) => (c.fanoutMs.p95 === null ? [] : [c.fanoutMs.p95]))).p50;
    const lateTotal = commandResults.reduce((s, c) => s + c.late, 0);
    const missingTotal = commandResults.reduce((s, c) => s + c.missing, 0);
    const failed = records.filter((r) => !r.ok);
    const problems: string[] = [];
    if (fanoutMedianCommandP95Ms === null || fanoutMedianCommandP95Ms > COPING.fanoutP95Ms) problems.push(`fan-out p95 ${fmt(fanoutMedianCommandP95Ms)} ms > ${COPING.fanoutP95Ms} ms (median command)`);
    if (lateTotal > 0) problems.push(`${lateTotal} arrivals after the instant`);
    if (leaderCpuPct !== null && leaderCpuPct > COPING.leaderCpuPct) problems.push(`leader CPU ${leaderCpuPct.toFixed(0)} % > ${COPING.leaderCpuPct} %`);
    if (closed.length > 0 || joinedAtStart < n) problems.push(`${Math.max(closed.length, n - joinedAtStart)} members dropped or never joined`);
    const verifiedLines = replies.reduce((s, r) => s + r.verifiedLines, 0);
    const tagFailures = replies.reduce((s, r) => s + r.tagFailures, 0);
    if (tagFailures > 0) problems.push(`${tagFailures} lines failed their tag`);
    if (missingTotal > 0) problems.push(`${missingTotal} command deliveries missing`);
    if (failed.length > 0) problems.push(`${failed.length} commands failed (${failed[0]!.error})`);
    const copes = problems.length === 0;
    const meetsTarget = n === TARGET.members ? copes && fanoutMedianCommandP95Ms !== null && fanoutMedianCommandP95Ms <= TARGET.fanoutP95Ms && leaderCpuPct !== null && leaderCpuPct <= TARGET.leaderCpuPct : null;

    let profile: ProfileSummary | null = null;
    if (o.cpuProf) {
      const files = existsSync(profDir) ? readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      if (files[0]) {
        const keep = join(resultsDir, `scale-leader-${n}-${stamp()}.cpuprofile`);
        writeFileSync(keep, readFileSync(join(profDir, files[0])));
        profile = analyzeProfile(keep, steadyFrom, steadyTo);
        profile.file = relative(root, keep);
      } else {
        process.stderr.write('  (no CPU profile was written: the leader did not exit cleanly)\n');
      }
    }

    return {
      members: n,
      procs,
      commands: { leader: leader.command, sims: sims.map((s) => s.child.command) },
      joinedAtStart,
      joinedAtEnd,
      lineAuth: o.open ? null : { verifiedLines, tagFailures },
      busyRetries: replies.reduce((s, r) => s + r.busyRetries, 0),
      dropped: closed.length,
      dropReasons: [...new Set(closed.map((c) => c.reason))].slice(0, 5),
      errorsFromLeader: replies.flatMap((r) => r.errorsFromLeader).slice(0, 10),
      joinSec,
      steady: {
        windowSec: steadyMs / 1000,
        leaderCpuPct,
        leaderUserPct: split0 && split1 ? (100 * (split1.user - split0.user)) / steadyMs : null,
        leaderSystemPct: split0 && split1 ? (100 * (split1.system - split0.system)) / steadyMs : null,
        simCpu,
        machineBusyPct,
        rttMs: stats(merge('steady', (w) => w.rttMs)),
        heartbeatLatencyMs: stats(merge('steady', (w) => w.heartbeatLatencyMs)),
        maxHeartbeatGapMs: Math.max(0, ...steadyWin.map((w) => w.maxHeartbeatGapMs)),
        exchangesPerSec: sum((w) => w.exchangesSent) / (steadyMs / 1000),
        statusPerSec: sum((w) => w.statusSent) / (steadyMs / 1000),
        exchangesUnanswered: sum((w) => w.exchangesSent - w.exchangesAnswered),
        clockErrorMs: stats(merge('steady', (w) => w.clockErrorMs)),
      },
      commandPhase: {
        windowSec: (commandsTo - commandsFrom) / 1000,
        leaderCpuPct: cmdCpu0 === null || cmdCpu1 === null ? null : (100 * (cmdCpu1 - cmdCpu0)) / (commandsTo - commandsFrom),
        rttMs: stats(merge('commands', (w) => w.rttMs)),
        heartbeatLatencyMs: stats(merge('commands', (w) => w.heartbeatLatencyMs)),
      },
      commandResults,
      fanoutMs,
      fanoutMedianCommandP95Ms,
      spreadMs: stats(allSpread),
      idleCtlRoundTripMs: stats(baseline),
      lateTotal,
      missingTotal,
      leaderPeakRssMb: leaderPeakRss === null ? null : leaderPeakRss / 1024,
      leaderRssMb: leaderRss === null ? null : leaderRss / 1024,
      loadAvg: { start: loadStart, end: loadEnd },
      copes,
      copingProblems: problems,
      meetsTarget,
      profile,
      wallSec: (nowMs() - wallStart) / 1000,
    };
  } finally {
    await stopAll();
    if (o.keepTmp) process.stderr.write(`  kept ${tmp}\n`);
    else rmSync(tmp, { recursive: true, force: true });
    currentTmp = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function report(steps: StepResult[], o: Options, command: string): string {
  const L: string[] = [];
  L.push('# Scale benchmark');
  L.push('');
  L.push(`Command: \`${command}\``);
  L.push(`Machine: ${availableParallelism()} CPUs, load average ${steps[0]?.loadAvg.start.map((x) => x.toFixed(2)).join(' ')} at start, ${steps.at(-1)?.loadAvg.end.map((x) => x.toFixed(2)).join(' ')} at end. Node ${process.version}.`);
  L.push(`Each step: a fresh leader ${o.open ? 'of an open party (--open: lines untagged)' : 'with a party secret (every line both ways tagged; members verify each before acting on it)'}; members join at ${o.joinRate}/s; ${o.settleSec} s settle; ${o.steadySec} s steady state; ${o.rounds} × (play track 1, seek 10, next).`);
  L.push('');
  L.push('| members | sim procs | fan-out p95, median command ms | fan-out p50 / p95 / max ms, all | leader send loop p50 / max ms (CPU p50) | spread p95 / max ms | late | missing | ctl round trip p50 / max ms (idle leader p50) | time-exchange rtt p50 / p95 ms | heartbeat delivery p50 / p95 / max ms | leader CPU steady % | leader CPU commands % | sim CPU % | machine busy % | leader peak RSS MB | dropped | copes |');
  L.push('|---:|---:|---:|---|---|---|---:|---:|---|---|---|---:|---:|---|---:|---:|---:|---|');
  for (const s of steps) {
    const ctl = stats(s.commandResults.map((c) => c.controlRoundTripMs));
    L.push(
      `| ${s.members} | ${s.procs} | ${fmt(s.fanoutMedianCommandP95Ms, 2)} | ${fmt(s.fanoutMs.p50, 2)} / ${fmt(s.fanoutMs.p95, 2)} / ${fmt(s.fanoutMs.max, 2)} | ${((l, c) => `${fmt(l.p50, 2)} / ${fmt(l.max, 2)} (${fmt(c.p50, 2)})`)(stats(s.commandResults.flatMap((c) => (c.leaderSendMs === null ? [] : [c.leaderSendMs]))), stats(s.commandResults.flatMap((c) => (c.leaderSendCpuMs === null ? [] : [c.leaderSendCpuMs]))))} | ${fmt(s.spreadMs.p95, 2)} / ${fmt(s.spreadMs.max, 2)} | ${s.lateTotal} | ${s.missingTotal} | ${fmt(ctl.p50, 2)} / ${fmt(ctl.max, 2)} (${fmt(s.idleCtlRoundTripMs.p50, 2)}) | ${fmt(s.steady.rttMs.p50, 3)} / ${fmt(s.steady.rttMs.p95, 3)} | ${fmt(s.steady.heartbeatLatencyMs.p50, 2)} / ${fmt(s.steady.heartbeatLatencyMs.p95, 2)} / ${fmt(s.steady.heartbeatLatencyMs.max, 2)} | ${fmt(s.steady.leaderCpuPct)} | ${fmt(s.commandPhase.leaderCpuPct)} | ${s.steady.simCpu.map((c) => fmt(c.cpuPct, 0)).join(' + ')} | ${fmt(s.steady.machineBusyPct, 0)} | ${fmt(s.leaderPeakRssMb, 0)} | ${s.dropped} | ${s.copes ? 'yes' : `**no**: ${s.copingProblems.join('; ')}`} |`,
    );
  }
  L.push('');
  L.push('fan-out = arrival of the new timeline at each member (its line read and, with a secret, its tag verified) − the instant just before sendControl (so it includes the hop over the control socket) (all members × all commands; "median command" = the median over commands of each command\'s p95, what the verdicts use: one command caught by a scheduling hiccup on a busy machine does not decide them); leader send loop = the leader\'s own time to tag and write the new timeline to every member, and the CPU time it used for it (from its log; on a loaded machine the wall time includes waiting for a core); spread = arrival − the first member\'s arrival of the same command (the per-member cost of the broadcast and of reading it, without the machine\'s wake-up latency); late = arrivals after the timeline\'s instant; ctl round trip = sendControl until the reply (the leader broadcasts before it replies; "idle leader" = the same for \`status\` before any member joined, this machine\'s floor); heartbeat delivery = arrival − the heartbeat\'s leaderMs stamp.');
  for (const s of steps) {
    L.push('');
    L.push(`## ${s.members} members`);
    L.push('');
    L.push(`Joined ${s.joinedAtStart}/${s.members} in ${s.joinSec.toFixed(1)} s (${s.busyRetries} joins retried after "busy"); ${s.joinedAtEnd} still joined at the end; time exchanges ${fmt(s.steady.exchangesPerSec, 0)}/s and status reports ${fmt(s.steady.statusPerSec, 0)}/s in steady state (${s.steady.exchangesUnanswered} exchanges unanswered in the window${o.ignorePace ? '; members ignoring the leader\'s pace' : ''}); clock estimate error at every 25th member p50 / p95 / max ${fmt(s.steady.clockErrorMs.p50, 3)} / ${fmt(s.steady.clockErrorMs.p95, 3)} / ${fmt(s.steady.clockErrorMs.max, 3)} ms (${s.steady.clockErrorMs.n} readings); largest heartbeat gap at a member ${fmt(s.steady.maxHeartbeatGapMs, 0)} ms. Leader CPU in steady state ${fmt(s.steady.leaderCpuPct)} % = ${fmt(s.steady.leaderUserPct)} % user + ${fmt(s.steady.leaderSystemPct)} % kernel. Leader RSS at the end ${fmt(s.leaderRssMb, 0)} MB, peak ${fmt(s.leaderPeakRssMb, 0)} MB. Command phase: rtt p50 / p95 ${fmt(s.commandPhase.rttMs.p50, 3)} / ${fmt(s.commandPhase.rttMs.p95, 3)} ms.`);
    if (s.lineAuth) L.push(`Per-line tags: ${s.lineAuth.verifiedLines} lines from the leader verified by the members, ${s.lineAuth.tagFailures} failed.`);
    if (s.dropReasons.length) L.push(`Dropped: ${s.dropReasons.join('; ')}`);
    if (s.errorsFromLeader.length) L.push(`Errors from the leader: ${s.errorsFromLeader.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
    L.push('');
    L.push('| command | seq | instant after issue ms | ctl round trip ms | leader send loop ms (CPU ms) | received | fan-out p50 / p95 / max ms | spread p95 / max ms | least slack ms | late | missing |');
    L.push('|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|');
    for (const c of s.commandResults) {
      L.push(`| ${c.kind} | ${c.seq ?? '—'} | ${fmt(c.leadMs, 0)} | ${fmt(c.controlRoundTripMs, 2)} | ${fmt(c.leaderSendMs, 2)} (${fmt(c.leaderSendCpuMs, 2)}) | ${c.received}${c.viaHeartbeat ? ` (${c.viaHeartbeat} by heartbeat)` : ''} | ${fmt(c.fanoutMs.p50, 2)} / ${fmt(c.fanoutMs.p95, 2)} / ${fmt(c.fanoutMs.max, 2)} | ${fmt(c.spreadMs.p95, 2)} / ${fmt(c.spreadMs.max, 2)} | ${fmt(c.minSlackMs, 0)} | ${c.late} | ${c.missing} |`);
    }
    if (s.meetsTarget !== null) {
      L.push('');
      L.push(`Target (${TARGET.members} members: fan-out p95 ≤ ${TARGET.fanoutP95Ms} ms, leader ≤ ${TARGET.leaderCpuPct} % of one core in steady state, nothing late, dropped or missing): **${s.meetsTarget ? 'PASS' : 'FAIL'}** (fan-out p95 ${fmt(s.fanoutMedianCommandP95Ms, 2)} ms median command, ${fmt(s.fanoutMs.p95, 2)} ms over all; leader ${fmt(s.steady.leaderCpuPct)} %)`);
    }
    if (s.profile) {
      const p = s.profile;
      L.push('');
      L.push(`Leader CPU profile over the steady window (${(p.windowMs / 1000).toFixed(1)} s; ${fmt(p.idlePct)} % idle; ${p.file}):`);
      L.push('');
      L.push('| self % of one core | function |');
      L.push('|---:|---|');
      for (const e of p.self.slice(0, 15)) L.push(`| ${e.pct.toFixed(2)} | \`${e.fn}\` |`);
      L.push('');
      L.push('| inclusive % of one core | function |');
      L.push('|---:|---|');
      for (const e of p.inclusive.slice(0, 25)) L.push(`| ${e.pct.toFixed(2)} | \`${e.fn}\` |`);
      L.push('');
      L.push('| inclusive % of one core | project function |');
      L.push('|---:|---|');
      for (const e of p.project) L.push(`| ${e.pct.toFixed(2)} | \`${e.fn}\` |`);
    }
  }
  if (steps.length > 1) {
    const first = steps.find((s) => !s.copes);
    L.push('');
    L.push(first ? `Stops coping at ${first.members} members: ${first.copingProblems.join('; ')}.` : `Copes at every step up to ${steps.at(-1)!.members} members.`);
  }
  L.push('');
  L.push(`Leader: \`${steps[0]?.commands.leader ?? ''}\``);
  L.push(`Simulated members: \`${steps[0]?.commands.sims[0] ?? ''}\` (× ${steps[0]?.procs ?? 0} processes)`);
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(simScript)) throw new Error(`${simScript} is missing: build first (npx tsc -p .)`);
  // This process issues the commands and stamps them: it is part of the meter, as the members are.
  if (o.simNice !== null && !raiseThreads(process.pid, o.simNice)) throw new Error(`cannot set this process's nice value to ${o.simNice} (not permitted)`);
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const command = ['node', 'dist/bench/scale-bench.js', ...process.argv.slice(2)].map(shellQuote).join(' ');
  const steps: StepResult[] = [];
  for (const n of o.counts) {
    process.stderr.write(`scale-bench: ${n} members (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
    steps.push(await runStep(n, o, resultsDir));
    const s = steps.at(-1)!;
    process.stderr.write(`  fan-out p95 ${fmt(s.fanoutMedianCommandP95Ms, 2)} ms (median command), ${fmt(s.fanoutMs.p95, 2)} ms (all), leader CPU ${fmt(s.steady.leaderCpuPct)} %, ${s.copes ? 'copes' : `does not cope: ${s.copingProblems.join('; ')}`}\n`);
  }
  const text = report(steps, o, command);
  process.stdout.write(text + '\n');
  const file = join(resultsDir, `scale-${stamp()}.json`);
  writeFileSync(file, JSON.stringify({ command, options: o, cpus: availableParallelism(), node: process.version, steps }, null, 2));
  process.stdout.write(`\nJSON: ${relative(root, file)}\n`);
  const target = steps.find((s) => s.meetsTarget !== null);
  return target ? (target.meetsTarget ? 0 : 1) : steps.every((s) => s.copes) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    async (e: unknown) => {
      process.stderr.write(`scale-bench: ${(e as Error).message}\n`);
      await stopAll();
      process.exit(2);
    },
  );
}
