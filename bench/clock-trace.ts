/**
 * Clock-exchange traces: records real (t1, t2, t3, t4) exchanges between a real leader process and
 * protocol-level members on this machine, and replays traces offline into OffsetEstimator.
 *
 *   node dist/bench/clock-trace.js record --scenario loaded --duration 180
 *   node dist/bench/clock-trace.js replay bench/results/clock-*.jsonl test/fixtures/clock-traces/*.jsonl
 *
 * Record: starts `syncplay leader` (--port 0, a private control socket and state file in a
 * temporary folder), then `--clients` child processes of this script, each a LeaderLink (the
 * member's own handshake and exchange schedule: burst, then steady rate) whose every completed
 * exchange is written as a JSON line. Scenarios:
 *   loopback  nothing else running
 *   loaded    a CPU hog (one busy node per core, nice 0), `--mpv` real members playing with
 *             --ao=null, and clients whose event loop is kept busy like a member's (--busy:
 *             short synchronous bursts every few ms, now and then a long one)
 *   clean     the sync bench's clean LAN: three busy clients, each through its own impairing proxy
 *             (0.25 ms each way), `--mpv` real members playing
 *   direct    as clean, with the clients connected straight to the leader
 *   jitter    clients go through the impairing proxy, 20 ± 10 ms each way (uniform); --hog adds load
 *   wifi      three busy clients, each through its own impairing proxy with the sync bench's Wi-Fi
 *             preset (20 ± 10 ms each way, 200 ms stalls ~every 20 s per direction)
 *   bad       as wifi with the bad-network preset (60 ± 40 ms each way, 400 ms stalls ~every 5 s)
 * Every process reads the same CLOCK_MONOTONIC, so the true offset is 0 and the true skew 0:
 * the error of an estimate at local time t is simply toShared(t) − t.
 *
 * Trace format (JSON lines): a first line {"type":"meta", ...}, then one line per exchange
 * {"c": client, "t1", "t2", "t3", "t4"} in the order the client completed them. Only the processes
 * started here are stopped, by PID.
 *
 * Replay: per trace and client, feeds the exchanges in order into a fresh OffsetEstimator and
 * evaluates toShared(t) − t on a 100 ms grid of local time (what a member uses between
 * exchanges: the state after the last exchange received before t), from isReady on; prints
 * |error| p50/p95/max per span of time since the first exchange. `--skew-ppm`/`--offset-ms`
 * transform the leader's timestamps (t2, t3 → (1 + k)·t + offset) to replay the same trace as a
 * leader whose clock runs at a different rate or is offset; the truth is transformed alike.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, createWriteStream, type WriteStream } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OffsetEstimator, type ClockSample, type OffsetEstimatorOptions } from '../src/clock/offset-estimator.js';
import { monotonicMs } from '../src/clock/monotonic.js';
import { localMs } from '../src/clock/time.js';
import { LeaderLink } from '../src/member/leader-link.js';
import { silentLogger } from '../src/log/logger.js';
import { benchArgs, usageOf, type BenchOptions } from './args.js';
import { quantile } from './stats.js';
import { sendControl } from '../src/cli/ctl-command.js';
import { CpuHog } from './cpu-hog.js';
import { ImpairProxy, presets, type Impairment } from './impair-proxy.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The build this script belongs to (dist/ or any --outDir): its leader is the one recorded. */
const buildRoot = join(here, '..');
/** The repository (for playlists/, bench/results/): the working directory. */
const repoRoot = process.cwd();

// ---------------------------------------------------------------------------------------------
// Trace records

export interface TraceSample extends ClockSample {
  /** client name */
  c: string;
}

export function readTrace(path: string): { meta: Record<string, unknown>; samples: TraceSample[] } {
  let meta: Record<string, unknown> = {};
  const samples: TraceSample[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as Record<string, unknown> | [string, number, number, number, number];
    // Compact form (fixtures): [client, t1, t2, t3, t4].
    if (Array.isArray(o)) samples.push({ c: o[0], t1: o[1], t2: o[2], t3: o[3], t4: o[4] });
    else if (o.type === 'meta') meta = o;
    else samples.push(o as unknown as TraceSample);
  }
  return { meta, samples };
}

// ---------------------------------------------------------------------------------------------
// Replay

export interface ReplayOptions {
  /** leader clock rate relative to the member's, ppm (applied to t2/t3) */
  skewPpm?: number;
  /** leader − member offset added to t2/t3, ms */
  offsetMs?: number;
  gridMs?: number;
  estimator?: OffsetEstimatorOptions;
}

export interface ReplayPoint {
  /** ms since the client's first exchange (t1) */
  sinceStartMs: number;
  /** estimated − true shared time, ms */
  errorMs: number;
  skewPpm: number;
}

/** Replays one client's exchanges; returns the error on a grid of local time. */
export function replay(samples: ClockSample[], opts: ReplayOptions = {}): ReplayPoint[] {
  const k = (opts.skewPpm ?? 0) * 1e-6;
  const off = opts.offsetMs ?? 0;
  const grid = opts.gridMs ?? 100;
  if (samples.length === 0) return [];
  const origin = samples[0]!.t1;
  // The leader's clock: L(t) = t + off + k·(t − origin); truth at member time t is L(t).
  const leader = (t: number): number => t + off + k * (t - origin);
  const est = new OffsetEstimator(opts.estimator);
  const out: ReplayPoint[] = [];
  let next = samples[0]!.t4;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    est.addSample({ t1: s.t1, t2: leader(s.t2), t3: leader(s.t3), t4: s.t4 });
    const until = i + 1 < samples.length ? samples[i + 1]!.t4 : s.t4 + 1;
    for (; next < until; next += grid) {
      if (!est.isReady) continue;
      out.push({ sinceStartMs: next - origin, errorMs: est.toShared(localMs(next)) - leader(next), skewPpm: est.skewPpm - (opts.skewPpm ?? 0) });
    }
  }
  return out;
}

export function splitByClient(samples: TraceSample[]): Map<string, TraceSample[]> {
  const by = new Map<string, TraceSample[]>();
  for (const s of samples) {
    const list = by.get(s.c) ?? [];
    list.push(s);
    by.set(s.c, list);
  }
  return by;
}

const SPANS: [number, number][] = [
  [0, 5_000],
  [5_000, 30_000],
  [30_000, 60_000],
  [60_000, 120_000],
  [120_000, Infinity],
];

function fmtStats(errs: number[]): string {
  if (errs.length === 0) return '      —';
  const a = errs.map(Math.abs);
  return `${quantile(a, 0.5).toFixed(3)}/${quantile(a, 0.95).toFixed(3)}/${Math.max(...a).toFixed(3)}`;
}

export function replayReport(files: string[], opts: ReplayOptions): void {
  console.log(`|error| p50/p95/max in ms, by time since connect${opts.skewPpm ? `, leader skew ${opts.skewPpm} ppm` : ''}${opts.offsetMs ? `, offset ${opts.offsetMs} ms` : ''}${opts.estimator ? `, estimator ${JSON.stringify(opts.estimator)}` : ''}`);
  console.log(['trace', 'client', 'n', ...SPANS.map(([a, b]) => `${a / 1000}–${b === Infinity ? '' : b / 1000} s`), '≥30 s', 'skew p50/max ppm ≥30 s'].join(' | '));
  for (const f of files) {
    const { samples } = readTrace(f);
    for (const [c, list] of splitByClient(samples)) {
      const pts = replay(list, opts);
      const cols = SPANS.map(([a, b]) => fmtStats(pts.filter((p) => p.sinceStartMs >= a && p.sinceStartMs < b).map((p) => p.errorMs)));
      const late = pts.filter((p) => p.sinceStartMs >= 30_000);
      const sk = late.map((p) => Math.abs(p.skewPpm));
      console.log([f.split('/').pop(), c, list.length, ...cols, fmtStats(late.map((p) => p.errorMs)), sk.length ? `${quantile(sk, 0.5).toFixed(2)}/${Math.max(...sk).toFixed(2)}` : '—'].join(' | '));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Record: client (a child process)

/** Keeps the event loop busy like a member's (mpv IPC, speed control, telemetry, GC). */
function startBusyLoop(): NodeJS.Timeout {
  let seed = process.pid;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return setInterval(() => {
    const ms = rnd() < 0.02 ? 5 + 10 * rnd() : -0.4 * Math.log(1 - rnd());
    const until = monotonicMs() + ms;
    while (monotonicMs() < until) {
      /* spin */
    }
  }, 7);
}

async function runClient(args: Map<string, string>): Promise<void> {
  const port = Number(args.get('port'));
  const name = args.get('name') ?? 'c1';
  const out = createWriteStream(args.get('out')!, { flags: 'a' });
  const exchangeHz = args.has('hz') ? Number(args.get('hz')) : undefined;
  const link = new LeaderLink({
    host: '127.0.0.1',
    port,
    name,
    secret: null,
    version: args.get('version') ?? '0.1.0',
    log: silentLogger,
    status: () => ({ errorMs: null, speed: null, trackIndex: null, playerState: 'idle', fileStatus: 'ok', fileProblems: [], latencyOffsetMs: 0, volume: null, muted: null, hardSeeks: 0 }),
    ...(exchangeHz ? { exchangeHz } : {}),
  });
  // Record every exchange the link completes (it feeds whichever estimator it holds).
  const record = (s: ClockSample): void => void out.write(JSON.stringify({ c: name, t1: s.t1, t2: s.t2, t3: s.t3, t4: s.t4 }) + '\n');
  const wrap = (est: OffsetEstimator): OffsetEstimator => {
    const add = est.addSample.bind(est);
    est.addSample = (s: ClockSample) => {
      record(s);
      add(s);
    };
    return est;
  };
  // A reconnect would feed a fresh estimator unseen; the recorder does not reconnect.
  wrap(link.clock);
  if (args.has('busy') && args.get('busy') !== 'no') startBusyLoop();
  link.start();
  const stop = (): void => {
    link.stop();
    out.end(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------------------------------------
// Record: orchestration

interface Scenario {
  clients: number;
  mpv: number;
  hog: boolean;
  busy: boolean;
  /** each client through its own impairing proxy with this impairment */
  impairment: Impairment | null;
}

const SCENARIOS: Record<string, Scenario> = {
  loopback: { clients: 2, mpv: 0, hog: false, busy: false, impairment: null },
  loaded: { clients: 2, mpv: 2, hog: true, busy: true, impairment: null },
  jitter: { clients: 2, mpv: 0, hog: false, busy: false, impairment: { up: { delayMs: 20, jitterMs: 10 }, down: { delayMs: 20, jitterMs: 10 } } },
  clean: { clients: 3, mpv: 2, hog: false, busy: true, impairment: presets.clean },
  direct: { clients: 3, mpv: 2, hog: false, busy: true, impairment: null },
  wifi: { clients: 3, mpv: 0, hog: false, busy: true, impairment: presets.wifi },
  bad: { clients: 3, mpv: 0, hog: false, busy: true, impairment: presets.bad },
};

function leaderCommand(args: string[]): string[] {
  const entry = pathToFileURL(join(buildRoot, 'src', 'cli', 'main.js')).href;
  const code = `const m = await import(${JSON.stringify(entry)}); await m.main(['node', 'syncplay', ...process.argv.slice(1)]);`;
  return ['--input-type=module', '-e', code, ...args];
}

function waitForLine(proc: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${buf}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before ${re}:\n${buf}`)));
  });
}

function kill(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

async function record(args: Map<string, string>): Promise<void> {
  const name = args.get('scenario') ?? 'loopback';
  const base = SCENARIOS[name];
  if (!base) throw new Error(`unknown scenario ${name} (${Object.keys(SCENARIOS).join(' | ')})`);
  const sc: Scenario = {
    clients: args.has('clients') ? Number(args.get('clients')) : base.clients,
    mpv: args.has('mpv') ? Number(args.get('mpv')) : base.mpv,
    hog: args.has('hog') ? args.get('hog') !== 'no' : base.hog,
    busy: args.has('busy') ? args.get('busy') !== 'no' : base.busy,
    impairment: base.impairment,
  };
  const seed = Number(args.get('seed') ?? 17);
  const durationMs = Number(args.get('duration') ?? 120) * 1000;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outPath = args.get('out') ?? join(repoRoot, 'bench', 'results', `clock-${name}-${stamp}.jsonl`);
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'clock-trace-'));
  const procs: ChildProcess[] = [];
  const proxies: ImpairProxy[] = [];
  let hog: CpuHog | null = null;
  const out: WriteStream = createWriteStream(outPath);
  const cleanup = async (): Promise<void> => {
    await Promise.all(procs.map(kill));
    for (const p of proxies) await p.stop();
    await hog?.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const sock = join(tmp, 'l.sock');
    const leader = spawn(process.execPath, leaderCommand(['leader', '--music-dir', 'playlists', '--host', '127.0.0.1', '--port', '0', '--no-ui', '--no-web', '--socket', sock, '--state-file', join(tmp, 's.json'), '--open', '--no-advertise']), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(leader);
    const m = await waitForLine(leader, /leader listening on ([\d.]+):(\d+)/, 20_000);
    const port = Number(m[2]);
    console.error(`leader pid ${leader.pid} on port ${port}`);
    if (sc.hog) {
      hog = new CpuHog();
      hog.start();
      console.error(`CPU hog: ${hog.describe()}`);
    }
    for (let i = 0; i < sc.mpv; i++) {
      const mem = spawn(process.execPath, leaderCommand(['member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', 'playlists', '--name', `m${i + 1}`, '--mpv-arg=--ao=null']), { cwd: repoRoot, stdio: ['ignore', 'ignore', 'ignore'] });
      procs.push(mem);
    }
    if (sc.mpv > 0) {
      await new Promise((r) => setTimeout(r, 3000));
      const reply = await sendControl({ cmd: 'play' }, sock, 3000);
      console.error(`PLAY: ${reply.ok ? 'ok' : String(reply.error)}`);
    }
    out.write(JSON.stringify({ type: 'meta', scenario: name, ...sc, seed, ...(args.has('hz') ? { hz: Number(args.get('hz')) } : {}), durationMs, startedAt: new Date().toISOString(), loadavg: loadavg(), node: process.version }) + '\n');
    out.end();
    await new Promise<void>((r) => out.once('finish', () => r()));
    for (let i = 0; i < sc.clients; i++) {
      let clientPort = port;
      if (sc.impairment) {
        const proxy = new ImpairProxy({ targetHost: '127.0.0.1', targetPort: port, ...sc.impairment, seed: seed + i });
        clientPort = await proxy.start();
        proxies.push(proxy);
      }
      const cargs = ['client', '--port', String(clientPort), '--name', `c${i + 1}`, '--out', outPath, ...(sc.busy ? ['--busy', 'yes'] : []), ...(args.has('hz') ? ['--hz', args.get('hz')!] : [])];
      const c = spawn(process.execPath, [fileURLToPath(import.meta.url), ...cargs], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
      procs.push(c);
      // Stagger connects a little so the bursts do not coincide exactly.
      await new Promise((r) => setTimeout(r, 300));
    }
    console.error(`recording ${durationMs / 1000} s into ${outPath}`);
    await new Promise((r) => setTimeout(r, durationMs));
  } finally {
    await cleanup();
  }
  console.error(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  replayReport([outPath], {});
}

// ---------------------------------------------------------------------------------------------

const OPTIONS = {
  scenario: { type: 'string', value: 'loopback|loaded|clean|direct|jitter|wifi|bad', help: 'record: what runs besides the clients (default loopback)' },
  duration: { type: 'string', value: 's', help: 'record: seconds (default 120)' },
  clients: { type: 'string', value: 'n', help: "record: clients (default: the scenario's)" },
  mpv: { type: 'string', value: 'n', help: "record: real members playing (default: the scenario's)" },
  hog: { type: 'string', value: 'yes|no', help: "record: a CPU hog (default: the scenario's)" },
  busy: { type: 'string', value: 'yes|no', help: "record/client: keep the clients' event loop busy like a member's" },
  seed: { type: 'string', value: 'n', help: "record: the first proxy's seed of its impairment sequence (default 17; client i gets n + i)" },
  out: { type: 'string', value: 'file', help: 'record/client: the trace (default bench/results/clock-<scenario>-<time>.jsonl)' },
  port: { type: 'string', value: 'port', help: "client: the leader's port" },
  name: { type: 'string', value: 'name', help: 'client: its name (default c1)' },
  hz: { type: 'string', value: 'n', help: "record/client: the clients' steady chain rate, Hz (default: the member's)" },
  version: { type: 'string', value: 'v', help: 'client: the version it reports (default 0.1.0)' },
  'skew-ppm': { type: 'string', value: 'k', help: "replay: the leader's clock runs k ppm fast" },
  'offset-ms': { type: 'string', value: 'ms', help: "replay: the leader's clock is offset by ms" },
  estimator: { type: 'string', value: 'json', help: 'replay: OffsetEstimator options' },
} as const satisfies BenchOptions;
const SYNOPSIS = 'clock-trace.js record|replay|client [options] [trace.jsonl…]';

function parseArgs(argv: string[]): { cmd: string; args: Map<string, string>; rest: string[] } {
  const { values, positionals } = benchArgs(SYNOPSIS, OPTIONS, { argv, positionals: true });
  const [cmd = 'record', ...rest] = positionals;
  const args = new Map<string, string>();
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') args.set(k, v);
  return { cmd, args, rest };
}

async function main(): Promise<void> {
  const { cmd, args, rest } = parseArgs(process.argv.slice(2));
  if (cmd === 'client') return runClient(args);
  if (cmd === 'record') return record(args);
  if (cmd === 'replay') {
    return replayReport(rest, {
      ...(args.has('skew-ppm') ? { skewPpm: Number(args.get('skew-ppm')) } : {}),
      ...(args.has('offset-ms') ? { offsetMs: Number(args.get('offset-ms')) } : {}),
      ...(args.has('estimator') ? { estimator: JSON.parse(args.get('estimator')!) as OffsetEstimatorOptions } : {}),
    });
  }
  throw new Error(`unknown command "${cmd}"\n${usageOf(SYNOPSIS, OPTIONS)}`);
}

if (process.argv[1] && /clock-trace\.[jt]s$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    console.error((e as Error).stack ?? String(e));
    process.exit(1);
  });
}
