/**
 * Protocol-level simulated members for the scale benchmark: many members in one Node process,
 * each a real TCP connection doing what a real member does on the wire (no mpv):
 *   - the handshake: server-hello → hello (name, clientNonce, role "member", HMAC proof when a
 *     secret is given) → welcome;
 *   - time exchanges: a burst of 20 at 25 Hz, then 2 Hz (or the slower pace a leader of a large party
 *     asks for in its replies), 8 Hz for the first two minutes (a real member's young estimate),
 *     each a chain of 4 back-to-back exchanges (as src/member/leader-link.ts);
 *   - a status report every second with plausible values (clock estimate from its own exchanges,
 *     a small sync error while playing, file status ok, the volume the leader set);
 *   - reading heartbeats, timelines, settings;
 *   - with --secret-file, per-line authentication as a real member does it (line-auth.ts): every
 *     line from the leader after the hello is verified (a wrong tag closes the connection, and is
 *     counted), every line to it is tagged.
 * A member told "busy" while joining (too many handshakes pending) tries again after 0.25–1 s, as a
 * real member reconnects with backoff; once joined it does not reconnect: a member the leader
 * drops stays dropped, and is counted.
 *
 * Every arrival is stamped with the process's monotonic clock (process.hrtime): time-exchange
 * replies as the first thing in the socket's data handler, a new timeline once its line's tag has
 * been verified (received and verified: what a member can act on). All processes on the machine share CLOCK_MONOTONIC, and the
 * leader's shared clock is its monotonic clock, so arrivals compare directly with the leader's
 * timeline instants and heartbeat stamps.
 *
 * Run by bench/scale-bench.ts with an IPC channel:
 *   node dist/bench/sim-member.js --host H --port P --count N --prefix sim-a [--join-rate 250] [--secret-file F] [--ignore-pace]
 * Every 25th member also keeps the real clock estimate (clock/offset-estimator.ts); its error is
 * reported, the true offset being 0 on one machine.
 * It reports {type:'progress'} every 500 ms, answers {type:'collect'} with what it measured, and
 * closes every connection and exits on {type:'stop'} (or SIGTERM).
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { monotonicMs } from '../src/clock/monotonic.js';
import { localMs } from '../src/clock/time.js';
import { OffsetEstimator } from '../src/clock/offset-estimator.js';
import { TIME_EXCHANGE, chainSpacingMs } from '../src/member/time-exchange.js';
import { memberProof } from '../src/protocol/auth.js';
import { LineAuth, sessionKeys } from '../src/protocol/line-auth.js';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { benchArgs } from './args.js';

const { burstCount: BURST_COUNT, burstIntervalMs: BURST_INTERVAL_MS, chainLength: CHAIN_LENGTH, steadyHz: EXCHANGE_HZ, statusIntervalMs: STATUS_INTERVAL_MS } = TIME_EXCHANGE;

/** The process's monotonic clock, ms. */
export const nowMs = monotonicMs;

interface Timeline {
  seq: number;
  state: 'playing' | 'paused' | 'stopped';
  trackIndex: number;
  positionSec: number;
  at: number;
  repeat: string;
}

/** One command's arrival at one member. */
export interface Arrival {
  member: number;
  seq: number;
  at: number;
  /** monotonic ms when the line carrying it was read and its tag verified */
  arrival: number;
  via: 'timeline' | 'heartbeat';
}

export interface SimProgress {
  type: 'progress';
  count: number;
  connected: number;
  joined: number;
  /** joined members whose burst of exchanges is done */
  settled: number;
  closed: number;
  errors: number;
}

export interface CollectRequest {
  type: 'collect';
  /** windows [from, to) on the monotonic clock for the round-trip and heartbeat samples */
  windows: { name: string; from: number; to: number }[];
}

export interface WindowSamples {
  name: string;
  rttMs: number[];
  heartbeatLatencyMs: number[];
  /** largest gap between two heartbeats at one member inside the window */
  maxHeartbeatGapMs: number;
  statusSent: number;
  exchangesSent: number;
  exchangesAnswered: number;
  /** |error| of the real clock estimate at the members that keep one, sampled each second (the true offset is 0) */
  clockErrorMs: number[];
}

export interface CollectReply {
  type: 'collected';
  count: number;
  joined: number;
  closed: { member: number; at: number; reason: string }[];
  errorsFromLeader: { code: string; message: string }[];
  arrivals: Arrival[];
  /** lines from the leader whose tag verified, and lines whose tag did not (each closes its connection) */
  verifiedLines: number;
  tagFailures: number;
  /** joins retried after the leader said "busy" */
  busyRetries: number;
  windows: WindowSamples[];
}

interface SimOptions {
  host: string;
  port: number;
  count: number;
  prefix: string;
  joinRatePerSec: number;
  secret: string | null;
  /** exchange at the members' own rate whatever pace the leader asks for (the schedule before leaders paced) */
  ignorePace: boolean;
}

/** Every this-many-th member also keeps the member's real clock estimate (clock/offset-estimator.ts), to report its error. */
const ESTIMATOR_EVERY = 25;

// Global records, one process for many members.
const rttLog: number[] = []; // pairs: t4, rtt
const heartbeatLog: number[] = []; // triples: arrival, latency, member
const statusLog: number[] = []; // send times
const exchangeLog: number[] = []; // send times
const clockErrorLog: number[] = []; // pairs: time, |estimate error| ms
const arrivals: Arrival[] = [];
const closedLog: { member: number; at: number; reason: string }[] = [];
const leaderErrors: { code: string; message: string }[] = [];
let verifiedLines = 0;
let busyRetries = 0;
let tagFailures = 0;

function gaussian(): number {
  const u = 1 - Math.random();
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

class SimMember {
  socket: Socket | null = null;
  connected = false;
  joined = false;
  settled = false;
  closed = false;
  private buf = '';
  private readonly clientNonce = randomBytes(16).toString('hex');
  private nextId = 1;
  private readonly inFlight = new Map<number, number>();
  private chainId = -1;
  private chainLeft = 0;
  private exchangeTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private burst = 0;
  /** when its exchanges began (monotonic ms): its estimate is young for TIME_EXCHANGE.youngSpanMs */
  private exchangesFromMs = 0;
  /** the spacing between chains the leader asked for in its last time reply, ms (0: none) */
  private leaderPaceMs = 0;
  /** recent samples for the clock estimate: [rtt, offset] */
  private readonly samples: [number, number][] = [];
  /** the real estimator, at every ESTIMATOR_EVERY-th member */
  private readonly estimator: OffsetEstimator | null;
  private timeline: Timeline | null = null;
  private volume = 100;
  private muted = false;
  private readonly skewPpm = gaussian() * 0.5;
  private readonly seenSeq = new Set<number>();
  /** per-line tags after the hello, when the party has a secret */
  private auth: LineAuth | null = null;

  constructor(readonly index: number, readonly name: string, private readonly opts: SimOptions) {
    this.estimator = index % ESTIMATOR_EVERY === 0 ? new OffsetEstimator() : null;
  }

  start(): void {
    this.buf = '';
    this.auth = null;
    const socket = connect({ host: this.opts.host, port: this.opts.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => (this.connected = true));
    socket.on('data', (d: Buffer) => this.onData(d, nowMs()));
    socket.on('error', (e) => {
      if (this.socket === socket) this.close(`error: ${e.message}`);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.close('closed by the leader');
    });
  }

  stop(): void {
    this.closed = true;
    this.clearTimers();
    this.socket?.destroy();
  }

  private clearTimers(): void {
    if (this.exchangeTimer) clearInterval(this.exchangeTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.exchangeTimer = this.statusTimer = null;
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    closedLog.push({ member: this.index, at: nowMs(), reason });
    this.socket?.destroy();
  }

  private send(m: Record<string, unknown>): void {
    const s = this.socket;
    if (!s || s.destroyed || this.closed) return;
    const json = JSON.stringify(m);
    s.write((this.auth ? this.auth.seal(json) : json) + '\n');
  }

  private onData(d: Buffer, t: number): void {
    this.buf += d.toString('utf8');
    for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.length > 0) this.onLine(line, t);
    }
  }

  private onLine(raw: string, t: number): void {
    let line = raw;
    if (this.auth) {
      const opened = this.auth.open(raw);
      if (opened === null) {
        tagFailures += 1;
        return this.close('a line from the leader failed its tag');
      }
      verifiedLines += 1;
      line = opened;
    }
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (m.type) {
      case 'server-hello': {
        const nonce = String(m.nonce);
        const proof = this.opts.secret !== null ? memberProof(this.opts.secret, nonce, this.name) : undefined;
        this.send({ type: 'hello', protocol: PROTOCOL_VERSION, name: this.name, clientNonce: this.clientNonce, version: 'sim', role: 'member', ...(proof ? { proof } : {}) });
        // Every line after the hello, both ways, carries a tag.
        if (this.opts.secret !== null) this.auth = new LineAuth(sessionKeys(this.opts.secret, nonce, this.clientNonce, 'member'));
        return;
      }
      case 'welcome':
        this.joined = true;
        this.timeline = m.timeline as Timeline;
        this.seenSeq.add(this.timeline.seq);
        this.startExchanges();
        // Spread over the second as real members are: each starts its timer at its own welcome.
        this.statusTimer = setInterval(() => this.sendStatus(), STATUS_INTERVAL_MS);
        return;
      case 'time-res':
        return this.onTimeRes(m as { id: number; t1: number; t2: number; t3: number; paceMs?: number }, t);
      case 'timeline':
      case 'heartbeat': {
        const tl = m.timeline as Timeline;
        if (!this.seenSeq.has(tl.seq)) {
          this.seenSeq.add(tl.seq);
          // received and verified: stamped after the tag check (the data handler's stamp when open)
          arrivals.push({ member: this.index, seq: tl.seq, at: tl.at, arrival: this.auth ? nowMs() : t, via: m.type });
        }
        if (m.type === 'heartbeat') heartbeatLog.push(t, t - (m.leaderMs as number), this.index);
        this.timeline = tl;
        return;
      }
      case 'settings': {
        const s = m.settings as { volume: number; muted: boolean };
        this.volume = s.volume;
        this.muted = s.muted;
        return;
      }
      case 'error':
        if (m.code === 'busy' && !this.joined && !this.closed) {
          busyRetries += 1;
          const old = this.socket;
          this.socket = null;
          old?.destroy();
          setTimeout(() => {
            if (!this.closed) this.start();
          }, 250 + Math.random() * 750);
          return;
        }
        leaderErrors.push({ code: String(m.code), message: String(m.message) });
        return;
      default:
        return;
    }
  }

  private startExchanges(): void {
    this.exchangesFromMs = monotonicMs();
    const tick = (): void => {
      this.requestTime();
      this.burst += 1;
      if (this.burst === BURST_COUNT) {
        if (this.exchangeTimer) clearInterval(this.exchangeTimer);
        this.exchangeTimer = setTimeout(this.steadyChain, this.chainSpacingMs());
        this.settled = true;
      }
    };
    this.exchangeTimer = setInterval(tick, BURST_INTERVAL_MS);
    tick();
  }

  /** After the burst, as LeaderLink: a chain, then the next one at the member's rate or the leader's slower pace. */
  private readonly steadyChain = (): void => {
    this.exchangeTimer = setTimeout(this.steadyChain, this.chainSpacingMs());
    this.requestTime();
  };

  private chainSpacingMs(): number {
    // (--ignore-pace replays the schedule before leaders paced: 2 Hz throughout)
    const young = !this.opts.ignorePace && monotonicMs() - this.exchangesFromMs < TIME_EXCHANGE.youngSpanMs;
    return chainSpacingMs(this.leaderPaceMs, young ? TIME_EXCHANGE.youngHz : EXCHANGE_HZ);
  }

  private requestTime(chainLeft = CHAIN_LENGTH - 1): void {
    const id = this.nextId++;
    this.chainId = id;
    this.chainLeft = chainLeft;
    const t1 = nowMs();
    this.inFlight.set(id, t1);
    if (this.inFlight.size > 50) this.inFlight.delete(this.inFlight.keys().next().value!);
    exchangeLog.push(t1);
    this.send({ type: 'time-req', id, t1 });
  }

  private onTimeRes(m: { id: number; t1: number; t2: number; t3: number; paceMs?: number }, t4: number): void {
    const sent = this.inFlight.get(m.id);
    if (sent === undefined || sent !== m.t1) return;
    this.inFlight.delete(m.id);
    this.leaderPaceMs = typeof m.paceMs === 'number' && !this.opts.ignorePace ? m.paceMs : 0;
    if (m.id === this.chainId && this.chainLeft > 0) this.requestTime(this.chainLeft - 1);
    const rtt = t4 - m.t1 - (m.t3 - m.t2);
    rttLog.push(t4, rtt);
    this.samples.push([rtt, (m.t2 - m.t1 + (m.t3 - t4)) / 2]);
    if (this.samples.length > 20) this.samples.shift();
    this.estimator?.addSample({ t1: m.t1, t2: m.t2, t3: m.t3, t4 });
  }

  private sendStatus(): void {
    // The estimate a real member would report: the offset of the quickest recent exchange.
    let best: [number, number] | null = null;
    for (const s of this.samples) if (!best || s[0] < best[0]) best = s;
    const ready = this.samples.length >= 8 && best !== null;
    const tl = this.timeline;
    const now = nowMs();
    const playing = tl !== null && tl.state === 'playing' && now >= tl.at;
    const state = tl === null ? 'idle' : tl.state === 'playing' ? (now >= tl.at ? 'playing' : 'armed') : tl.state === 'paused' ? 'paused' : 'idle';
    statusLog.push(now);
    // Leader and members read one CLOCK_MONOTONIC and the shared clock is the leader's: the estimate's offset is its error.
    if (this.estimator?.isReady) clockErrorLog.push(now, Math.abs(this.estimator.offsetAt(localMs(now))));
    this.send({
      type: 'status',
      clockOffsetMs: ready ? best![1] : null,
      rttMs: ready ? best![0] : null,
      clockSkewPpm: ready ? this.skewPpm : null,
      errorMs: playing ? gaussian() * 0.25 : null,
      speed: playing ? 1 + gaussian() * 2e-5 : null,
      trackIndex: tl ? tl.trackIndex : null,
      playerState: state,
      fileStatus: 'ok',
      fileProblems: [],
      latencyOffsetMs: 0,
      volume: this.volume,
      muted: this.muted,
      hardSeeks: 0,
    });
  }
}

/** Samples inside [from, to). */
function windowSamples(name: string, from: number, to: number): WindowSamples {
  const rtt: number[] = [];
  for (let i = 0; i < rttLog.length; i += 2) if (rttLog[i]! >= from && rttLog[i]! < to) rtt.push(rttLog[i + 1]!);
  const hb: number[] = [];
  const lastBeat = new Map<number, number>();
  let maxGap = 0;
  for (let i = 0; i < heartbeatLog.length; i += 3) {
    const t = heartbeatLog[i]!;
    if (t < from || t >= to) continue;
    hb.push(heartbeatLog[i + 1]!);
    const member = heartbeatLog[i + 2]!;
    const prev = lastBeat.get(member);
    if (prev !== undefined) maxGap = Math.max(maxGap, t - prev);
    lastBeat.set(member, t);
  }
  const clockError: number[] = [];
  for (let i = 0; i < clockErrorLog.length; i += 2) if (clockErrorLog[i]! >= from && clockErrorLog[i]! < to) clockError.push(clockErrorLog[i + 1]!);
  const count = (log: number[]): number => log.reduce((n, t) => n + (t >= from && t < to ? 1 : 0), 0);
  return { name, rttMs: rtt, heartbeatLatencyMs: hb, maxHeartbeatGapMs: maxGap, statusSent: count(statusLog), exchangesSent: count(exchangeLog), exchangesAnswered: rtt.length, clockErrorMs: clockError };
}

function parseArgs(argv: string[]): SimOptions {
  const { values: v } = benchArgs('node dist/bench/sim-member.js --port PORT [options]', {
    host: { type: 'string', value: 'host', help: "the leader's address (default 127.0.0.1)" },
    port: { type: 'string', value: 'port', help: "the leader's port (required)" },
    count: { type: 'string', value: 'n', help: 'simulated members in this process (default 1)' },
    'join-rate': { type: 'string', value: 'per s', help: 'members joining per second (default 250)' },
    prefix: { type: 'string', value: 'name', help: 'member names are <prefix>-0001… (default sim)' },
    'secret-file': { type: 'string', value: 'file', help: "the party's secret (default: an open party)" },
    'ignore-pace': { type: 'boolean', help: "exchange time at the members' own 2 Hz whatever pace the leader asks for" },
  }, { argv });
  const get = (flag: Exclude<keyof typeof v, 'ignore-pace'>): string | undefined => v[flag];
  const host = get('host') ?? '127.0.0.1';
  const port = Number(get('port'));
  const count = Number(get('count') ?? 1);
  const joinRatePerSec = Number(get('join-rate') ?? 250);
  if (!Number.isInteger(port) || port <= 0) throw new Error('--port is required');
  if (!Number.isInteger(count) || count <= 0) throw new Error('--count needs a positive integer');
  if (!(joinRatePerSec > 0)) throw new Error('--join-rate needs a positive number');
  const secretFile = get('secret-file');
  const secret = secretFile ? (readFileSync(secretFile, 'utf8').split(/\r?\n/)[0] ?? '').trim() : null;
  return { host, port, count, prefix: get('prefix') ?? 'sim', joinRatePerSec, secret, ignorePace: v['ignore-pace'] ?? false };
}

function run(opts: SimOptions): void {
  const members: SimMember[] = [];
  for (let i = 0; i < opts.count; i++) members.push(new SimMember(i, `${opts.prefix}-${String(i + 1).padStart(4, '0')}`, opts));
  // Join at the requested rate, as a crowd arriving rather than one instant stampede.
  let started = 0;
  const perTick = Math.max(1, Math.round(opts.joinRatePerSec / 50));
  const joiner = setInterval(() => {
    for (let k = 0; k < perTick && started < members.length; k++) members[started++]!.start();
    if (started >= members.length) clearInterval(joiner);
  }, 20);

  const send = (m: SimProgress | CollectReply): void => {
    if (process.send) process.send(m);
  };
  const progress = (): SimProgress => ({
    type: 'progress',
    count: members.length,
    connected: members.filter((m) => m.connected).length,
    joined: members.filter((m) => m.joined && !m.closed).length,
    settled: members.filter((m) => m.settled && !m.closed).length,
    closed: closedLog.length,
    errors: leaderErrors.length,
  });
  const progressTimer = setInterval(() => {
    const p = progress();
    send(p);
    if (!process.send) process.stderr.write(`${JSON.stringify(p)}\n`);
  }, 500);

  const stop = (): void => {
    clearInterval(joiner);
    clearInterval(progressTimer);
    for (const m of members) m.stop();
    setTimeout(() => process.exit(0), 200).unref();
    process.disconnect?.();
  };
  process.on('message', (raw: unknown) => {
    const msg = raw as { type: string };
    if (msg.type === 'collect') {
      const req = msg as CollectRequest;
      send({
        type: 'collected',
        count: members.length,
        joined: members.filter((m) => m.joined && !m.closed).length,
        closed: closedLog,
        errorsFromLeader: leaderErrors.slice(0, 50),
        arrivals,
        verifiedLines,
        tagFailures,
        busyRetries,
        windows: req.windows.map((w) => windowSamples(w.name, w.from, w.to)),
      });
    } else if (msg.type === 'stop') {
      stop();
    }
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The benchmark going away takes its members with it.
  process.on('disconnect', () => {
    clearInterval(progressTimer);
    for (const m of members) m.stop();
    setTimeout(() => process.exit(0), 100).unref();
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    run(parseArgs(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`sim-member: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
