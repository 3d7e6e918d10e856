/**
 * An impairing TCP proxy: adds delay, jitter and stalls to each direction of every connection it
 * forwards, for testing sync over a bad network on a machine without netem.
 *
 *   node dist/bench/impair-proxy.js --listen 0 --target 127.0.0.1:7655 --up 20,10 --down 20,10 --stall 0.05,200
 *   node dist/bench/impair-proxy.js --listen 7656 --target 127.0.0.1:7655 --preset wifi
 *
 * Model, per direction of each connection (up = client → server, down = server → client):
 *   - each chunk read from one side is written to the other at
 *       max(previous chunk's delivery, arrival + delayMs + jitter)
 *     so the byte stream keeps its order (TCP semantics hold; a delayed chunk holds back later ones).
 *   - jitter is uniform in [−jitterMs, +jitterMs] (default), or with jitterDistribution
 *     'exponential' an exponential tail of mean jitterMs added on top of delayMs; a sample that
 *     would give a negative delay is clamped to 0.
 *   - stalls stand in for a lost segment and its retransmission: stall windows start as a Poisson
 *     process of rate stallProbabilityPerSec (per direction of each connection) and last stallMs;
 *     nothing is delivered in that direction while a window is open (chunks due inside it go out
 *     at its end, in order).
 *   - a FIN is forwarded after the data before it; a reset or error tears the pair down at once.
 * Chunks are delivered by a precise scheduler (a coarse timer until `spinMs` before the instant,
 * then polling with setImmediate, which keeps I/O flowing), not setTimeout alone (±1 ms).
 * Random draws come from a seeded generator: the same seed gives the same impairment sequence.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { benchArgs, numberOption, type BenchOptions } from './args.js';
import { seededRandom } from './seeded-random.js';
import { percentile } from './stats.js';

export { seededRandom };

export interface DirectionImpairment {
  /** base one-way delay, ms */
  delayMs: number;
  /** jitter, ms: ± this, uniform (default), or the mean of an exponential tail (see jitterDistribution) */
  jitterMs?: number;
  jitterDistribution?: 'uniform' | 'exponential';
  /** rate of stalls, per second (Poisson) */
  stallProbabilityPerSec?: number;
  /** how long a stall holds the direction, ms */
  stallMs?: number;
}

export interface Impairment {
  up: DirectionImpairment;
  down: DirectionImpairment;
}

export interface ImpairProxyOptions extends Impairment {
  listenHost?: string;
  /** 0 = any free port */
  listenPort?: number;
  targetHost: string;
  targetPort: number;
  /** seed of the impairment sequence (default 1) */
  seed?: number;
  /** how long before a delivery instant the coarse timer hands over to polling (default 2 ms) */
  spinMs?: number;
}

export interface DelayStats {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  mean: number | null;
}

export interface DirectionStats {
  chunks: number;
  bytes: number;
  /** stall windows that held something back, and the time they added */
  stalls: number;
  stalledMs: number;
  /** delivery − arrival as achieved (includes order holding and stalls), ms */
  delayMs: DelayStats;
  /** delivery − planned delivery instant (scheduler lateness), ms */
  lateMs: DelayStats;
}

export interface ImpairProxyStats {
  connections: number;
  open: number;
  up: DirectionStats;
  down: DirectionStats;
}

// ---------------------------------------------------------------------------------------------
// Presets (the same impairment in both directions unless said otherwise)

/** loopback-like: 0.25 ms each way (≈ 0.5 ms round trip), no jitter, no stalls */
export const clean: Impairment = { up: { delayMs: 0.25 }, down: { delayMs: 0.25 } };
/**
 * home Wi-Fi: 20 ± 10 ms each way (uniform), and a 200 ms stall about every 20 s per connection
 * (0.025 per second in each direction).
 */
export const wifi: Impairment = {
  up: { delayMs: 20, jitterMs: 10, stallProbabilityPerSec: 0.025, stallMs: 200 },
  down: { delayMs: 20, jitterMs: 10, stallProbabilityPerSec: 0.025, stallMs: 200 },
};
/** a bad link: 60 ± 40 ms each way, a 400 ms stall about every 5 s per connection (0.1/s each direction) */
export const bad: Impairment = {
  up: { delayMs: 60, jitterMs: 40, stallProbabilityPerSec: 0.1, stallMs: 400 },
  down: { delayMs: 60, jitterMs: 40, stallProbabilityPerSec: 0.1, stallMs: 400 },
};
/** fixed, different delays each way: the case a round-trip/2 clock estimate cannot see */
export function asymmetric(upMs: number, downMs: number): Impairment {
  return { up: { delayMs: upMs }, down: { delayMs: downMs } };
}
export const presets = { clean, wifi, bad, asymmetric } as const;

// ---------------------------------------------------------------------------------------------
// Clock, random numbers, statistics

export function nowMs(): number {
  const ns = process.hrtime.bigint();
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/** Keeps the most recent `cap` values. */
class Samples {
  private readonly buf: Float64Array;
  private n = 0;
  constructor(private readonly cap = 20_000) {
    this.buf = new Float64Array(cap);
  }
  push(v: number): void {
    this.buf[this.n % this.cap] = v;
    this.n += 1;
  }
  clear(): void {
    this.n = 0;
  }
  summary(): DelayStats {
    const len = Math.min(this.n, this.cap);
    if (len === 0) return { count: 0, p50: null, p95: null, max: null, mean: null };
    const a = Array.from(this.buf.subarray(0, len)).sort((x, y) => x - y);
    return { count: this.n, p50: percentile(a, 50), p95: percentile(a, 95), max: a[len - 1]!, mean: a.reduce((s, v) => s + v, 0) / len };
  }
}

// ---------------------------------------------------------------------------------------------
// Precise scheduler

interface Job {
  at: number;
  seq: number;
  run: (now: number) => void;
}

/**
 * Runs jobs at instants of the monotonic clock, in (instant, insertion) order, within a few
 * microseconds on a quiet machine. A coarse setTimeout sleeps until `spinMs` before the earliest
 * instant; from there it polls with setImmediate, so sockets keep being read while it waits.
 */
export class PreciseScheduler {
  private heap: Job[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerFor = Infinity;
  private immediate: NodeJS.Immediate | null = null;

  constructor(private readonly spinMs = 2) {}

  get pending(): number {
    return this.heap.length;
  }

  at(instant: number, run: (now: number) => void): void {
    this.push({ at: instant, seq: this.seq++, run });
    this.arm();
  }

  clear(): void {
    this.heap = [];
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.timerFor = Infinity;
  }

  private arm(): void {
    if (this.immediate) return; // polling already: it sees the new job
    const head = this.heap[0];
    if (!head) return this.disarm();
    const wait = head.at - nowMs() - this.spinMs;
    if (wait < 1) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.timerFor = Infinity;
      this.immediate = setImmediate(() => this.poll());
      return;
    }
    if (this.timer && this.timerFor <= head.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerFor = head.at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerFor = Infinity;
      this.arm();
    }, wait);
  }

  private poll(): void {
    this.immediate = null;
    let now = nowMs();
    for (let head = this.heap[0]; head && head.at <= now; head = this.heap[0]) {
      this.pop();
      head.run(now);
      now = nowMs();
    }
    this.arm();
  }

  private less(a: Job, b: Job): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(job: Job): void {
    const h = this.heap;
    h.push(job);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Job | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

// ---------------------------------------------------------------------------------------------
// One direction of one connection

class DirectionCounters {
  chunks = 0;
  bytes = 0;
  stalls = 0;
  stalledMs = 0;
  readonly delay = new Samples();
  readonly late = new Samples();
  stats(): DirectionStats {
    return { chunks: this.chunks, bytes: this.bytes, stalls: this.stalls, stalledMs: this.stalledMs, delayMs: this.delay.summary(), lateMs: this.late.summary() };
  }
}

class Direction {
  private lastDelivery = -Infinity;
  private nextStallStart: number;
  private readonly jitter: number;
  private readonly stallRate: number;
  private readonly stallMs: number;
  /** chunks scheduled but not yet written */
  inFlight = 0;
  private closed = false;

  constructor(
    private readonly imp: DirectionImpairment,
    private readonly rand: () => number,
    private readonly scheduler: PreciseScheduler,
    private readonly counters: DirectionCounters,
    private readonly from: Socket,
    private readonly to: Socket,
    startMs: number,
    private readonly partitionEndMs: () => number,
  ) {
    // Backpressure: when the receiving side cannot keep up, stop reading the sending side.
    to.on('drain', () => from.resume());
    this.jitter = Math.max(0, imp.jitterMs ?? 0);
    this.stallRate = Math.max(0, imp.stallProbabilityPerSec ?? 0);
    this.stallMs = Math.max(0, imp.stallMs ?? 0);
    this.nextStallStart = this.stallRate > 0 && this.stallMs > 0 ? startMs + this.exp(1000 / this.stallRate) : Infinity;
  }

  private exp(mean: number): number {
    return -Math.log(1 - this.rand()) * mean;
  }

  private sampleDelay(): number {
    const base = this.imp.delayMs;
    if (this.jitter === 0) return Math.max(0, base);
    const j = this.imp.jitterDistribution === 'exponential' ? this.exp(this.jitter) : (2 * this.rand() - 1) * this.jitter;
    return Math.max(0, base + j);
  }

  /** The delivery instant of something arriving now, after order holding and stall windows. */
  private plan(arrival: number): number {
    let t = Math.max(this.lastDelivery, arrival + this.sampleDelay());
    // A partition holds everything that arrives during it until it ends (TCP retransmits it then).
    const partitionEnd = this.partitionEndMs();
    if (arrival < partitionEnd) t = Math.max(t, partitionEnd);
    // Skip stall windows that ended before t; a window that contains t holds it to its end.
    // (A window with nothing in flight changes nothing, as a loss without traffic cannot happen.)
    while (this.nextStallStart <= t) {
      const end = this.nextStallStart + this.stallMs;
      if (t < end) {
        this.counters.stalls += 1;
        this.counters.stalledMs += end - t;
        t = end;
      }
      this.nextStallStart = end + this.exp(1000 / this.stallRate);
    }
    this.lastDelivery = t;
    return t;
  }

  data(chunk: Buffer, arrival: number): void {
    if (this.closed) return;
    const at = this.plan(arrival);
    this.inFlight += 1;
    this.scheduler.at(at, (now) => {
      this.inFlight -= 1;
      if (this.closed || this.to.destroyed) return;
      if (!this.to.write(chunk)) this.from.pause();
      this.counters.chunks += 1;
      this.counters.bytes += chunk.length;
      this.counters.delay.push(now - arrival);
      this.counters.late.push(now - at);
    });
  }

  /** Forwards the FIN after everything before it. */
  end(arrival: number): void {
    if (this.closed) return;
    const at = this.plan(arrival);
    this.scheduler.at(at, () => {
      if (!this.to.destroyed) this.to.end();
    });
  }

  close(): void {
    this.closed = true;
  }
}

// ---------------------------------------------------------------------------------------------
// The proxy

export class ImpairProxy {
  private server: Server | null = null;
  private readonly scheduler: PreciseScheduler;
  private readonly sockets = new Set<Socket>();
  private readonly up = new DirectionCounters();
  private readonly down = new DirectionCounters();
  private connections = 0;
  private open = 0;
  /** until this instant (nowMs) nothing crosses the proxy: a partition */
  private partitionEndMs = -Infinity;
  private readonly heldAccepts = new Set<NodeJS.Timeout>();
  port = 0;

  constructor(private readonly opts: ImpairProxyOptions) {
    this.scheduler = new PreciseScheduler(opts.spinMs ?? 2);
  }

  /** Starts listening; resolves with the port. */
  async start(): Promise<number> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listenPort ?? 0, this.opts.listenHost ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this.port;
  }

  /**
   * A partition (a blackhole both ways) for `durationMs` from now, as a Wi-Fi link that drops out:
   * nothing crosses in either direction. Bytes, FINs and resets that arrive meanwhile are held and
   * delivered when it ends, as TCP would retransmit them; a connection opened meanwhile reaches the
   * target only then (its SYN is retried). Either end may give up on its own in the meantime.
   */
  partition(durationMs: number): void {
    this.partitionEndMs = Math.max(this.partitionEndMs, nowMs() + durationMs);
  }

  /** Stops listening and tears down every forwarded connection at once. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const t of this.heldAccepts) clearTimeout(t);
    this.heldAccepts.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.scheduler.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  stats(): ImpairProxyStats {
    return { connections: this.connections, open: this.open, up: this.up.stats(), down: this.down.stats() };
  }

  /** Forgets the delay samples and counters (e.g. after a warm-up). */
  resetStats(): void {
    for (const c of [this.up, this.down]) {
      c.chunks = c.bytes = c.stalls = c.stalledMs = 0;
      c.delay.clear();
      c.late.clear();
    }
  }

  private accept(client: Socket): void {
    const heldMs = this.partitionEndMs - nowMs();
    if (heldMs > 0) {
      // Not forwarded during a partition: the client's connection attempt goes on until it ends.
      this.sockets.add(client);
      client.on('error', () => {});
      const timer = setTimeout(() => {
        this.heldAccepts.delete(timer);
        this.sockets.delete(client);
        if (client.destroyed) return;
        client.removeAllListeners('error');
        this.accept(client);
      }, heldMs);
      this.heldAccepts.add(timer);
      return;
    }
    const index = this.connections++;
    this.open += 1;
    const server = connect({ host: this.opts.targetHost, port: this.opts.targetPort, allowHalfOpen: true, noDelay: true });
    client.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(server);
    const seed = (Math.imul(this.opts.seed ?? 1, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
    const start = nowMs();
    const partitionEnd = (): number => this.partitionEndMs;
    const upDir = new Direction(this.opts.up, seededRandom(seed), this.scheduler, this.up, client, server, start, partitionEnd);
    const downDir = new Direction(this.opts.down, seededRandom(seed ^ 0x5bd1e995), this.scheduler, this.down, server, client, start, partitionEnd);
    let finished = false;
    const teardown = (): void => {
      if (finished) return;
      finished = true;
      this.open -= 1;
      upDir.close();
      downDir.close();
      client.destroy();
      server.destroy();
      this.sockets.delete(client);
      this.sockets.delete(server);
    };
    client.on('data', (d: Buffer) => upDir.data(d, nowMs()));
    server.on('data', (d: Buffer) => downDir.data(d, nowMs()));
    client.on('end', () => upDir.end(nowMs()));
    server.on('end', () => downDir.end(nowMs()));
    // Both halves closed (cleanly or not): drop the pair. An error closes both at once.
    let closes = 0;
    const onClose = (): void => {
      closes += 1;
      if (closes === 2) teardown();
    };
    client.on('close', onClose);
    server.on('close', onClose);
    // A reset crosses a partition only when it ends.
    const teardownWhenReachable = (): void => {
      const heldMs = this.partitionEndMs - nowMs();
      if (heldMs > 0) setTimeout(teardown, heldMs);
      else teardown();
    };
    client.on('error', teardownWhenReachable);
    server.on('error', teardownWhenReachable);
  }
}

// ---------------------------------------------------------------------------------------------
// Command line

const PROXY_SYNOPSIS = 'node dist/bench/impair-proxy.js --target HOST:PORT [options]';
const PROXY_OPTIONS = {
  listen: { type: 'string', value: '[HOST:]PORT', help: 'where to listen (default 127.0.0.1:0 = any free port)' },
  target: { type: 'string', value: 'HOST:PORT', help: 'where to forward (the leader)' },
  preset: { type: 'string', value: 'NAME', help: 'clean | wifi | bad (then --up/--down/--stall override parts)' },
  up: { type: 'string', value: 'MS[,JITTER]', help: 'client → server delay and ± jitter, ms' },
  down: { type: 'string', value: 'MS[,JITTER]', help: 'server → client delay and ± jitter, ms' },
  stall: { type: 'string', value: 'PER_SEC,MS', help: 'stalls in both directions: rate per second and length (e.g. 0.05,200)' },
  jitter: { type: 'string', value: 'uniform|exponential', help: 'jitter distribution (default uniform ±JITTER)' },
  seed: { type: 'string', value: 'N', help: 'seed of the impairment sequence (default 1)' },
  'stats-every': { type: 'string', value: 'S', help: 'print achieved delays every S seconds (default 10, 0 = never)' },
} as const satisfies BenchOptions;

function parseHostPort(v: string, what: string, defaultHost: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  const host = i === -1 ? defaultHost : v.slice(0, i) || defaultHost;
  const port = Number(i === -1 ? v : v.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${what}: bad port in "${v}"`);
  return { host: host.replace(/^\[|\]$/g, ''), port };
}

function parsePair(v: string | undefined, what: string): [number, number | undefined] {
  const parts = (v ?? '').split(',').map((s) => s.trim());
  const a = Number(parts[0]);
  const b = parts[1] === undefined || parts[1] === '' ? undefined : Number(parts[1]);
  if (!parts[0] || !Number.isFinite(a) || a < 0 || (b !== undefined && (!Number.isFinite(b) || b < 0))) throw new Error(`${what} needs numbers ≥ 0 like 20,10; got "${v ?? ''}"`);
  return [a, b];
}

export function parseProxyArgs(argv: string[]): ImpairProxyOptions & { statsEverySec: number } {
  const { values: v, usage } = benchArgs(PROXY_SYNOPSIS, PROXY_OPTIONS, { argv });
  const listen = v.listen !== undefined ? parseHostPort(v.listen, '--listen', '127.0.0.1') : { host: '127.0.0.1', port: 0 };
  if (v.target === undefined) throw new Error(`--target HOST:PORT is required\n${usage}`);
  const target = parseHostPort(v.target, '--target', '127.0.0.1');
  let base: Impairment = { up: { delayMs: 0 }, down: { delayMs: 0 } };
  if (v.preset !== undefined) {
    const name = v.preset;
    if (name !== 'clean' && name !== 'wifi' && name !== 'bad') throw new Error(`unknown preset "${name}" (clean | wifi | bad)`);
    base = presets[name];
  }
  const direction = (value: string | undefined, what: string): Partial<DirectionImpairment> => {
    if (value === undefined) return {};
    const [d, j] = parsePair(value, what);
    return { delayMs: d, ...(j !== undefined ? { jitterMs: j } : {}) };
  };
  const up = direction(v.up, '--up');
  const down = direction(v.down, '--down');
  let stall: Partial<DirectionImpairment> = {};
  if (v.stall !== undefined) {
    const [p, ms] = parsePair(v.stall, '--stall');
    if (ms === undefined) throw new Error('--stall needs PER_SEC,MS (e.g. 0.05,200)');
    stall = { stallProbabilityPerSec: p, stallMs: ms };
  }
  const dist = v.jitter;
  if (dist !== undefined && dist !== 'uniform' && dist !== 'exponential') throw new Error('--jitter is uniform or exponential');
  const seed = v.seed === undefined ? 1 : Number(v.seed);
  if (!Number.isInteger(seed)) throw new Error('--seed needs an integer');
  const statsEverySec = numberOption('--stats-every', v['stats-every'], 10, 0);
  const merge = (b: DirectionImpairment, d: Partial<DirectionImpairment>): DirectionImpairment => ({ ...b, ...d, ...stall, ...(dist ? { jitterDistribution: dist } : {}) });
  return { listenHost: listen.host, listenPort: listen.port, targetHost: target.host, targetPort: target.port, up: merge(base.up, up), down: merge(base.down, down), seed, statsEverySec };
}

function describeDirection(d: DirectionImpairment): string {
  const jitter = d.jitterMs ? (d.jitterDistribution === 'exponential' ? ` + exp(mean ${d.jitterMs})` : ` ± ${d.jitterMs}`) : '';
  const stall = d.stallProbabilityPerSec && d.stallMs ? `, ${d.stallMs} ms stalls at ${d.stallProbabilityPerSec}/s` : '';
  return `${d.delayMs}${jitter} ms${stall}`;
}

function formatStats(s: ImpairProxyStats): string {
  const f = (v: number | null): string => (v === null ? '—' : v.toFixed(2));
  const dir = (name: string, d: DirectionStats): string =>
    `${name}: ${d.chunks} chunks, delay p50 ${f(d.delayMs.p50)} p95 ${f(d.delayMs.p95)} max ${f(d.delayMs.max)} ms, scheduler late p95 ${f(d.lateMs.p95)} ms, ${d.stalls} stalls`;
  return `connections ${s.open} open / ${s.connections} total; ${dir('up', s.up)}; ${dir('down', s.down)}`;
}

async function cli(argv: string[]): Promise<void> {
  const o = parseProxyArgs(argv);
  const proxy = new ImpairProxy(o);
  const port = await proxy.start();
  process.stderr.write(`impair-proxy listening on ${o.listenHost}:${port} → ${o.targetHost}:${o.targetPort}; up ${describeDirection(o.up)}; down ${describeDirection(o.down)}\n`);
  const timer = o.statsEverySec > 0 ? setInterval(() => process.stderr.write(formatStats(proxy.stats()) + '\n'), o.statsEverySec * 1000) : null;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  if (timer) clearInterval(timer);
  process.stderr.write(formatStats(proxy.stats()) + '\n');
  await proxy.stop();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`impair-proxy: ${(e as Error).message}\n`);
    process.exit(2);
  });
}
