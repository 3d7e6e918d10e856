/**
 * NtpClock: UTC, as told by one NTP server, mapped onto this process's monotonic clock.
 *
 * With `--ntp SERVER[:PORT]` the shared clock is UTC from that server instead of the leader's
 * monotonic clock, so independent leaders, and members that start before their leader is
 * reachable, agree on instants.
 *
 * Mapping: local = monotonicMs(); shared = UTC ms (Unix epoch) = local + offset(local). Date.now()
 * is never used for the result (the wall clock steps); only to pick the NTP era (136 years).
 *
 * Measurement: SNTP exchanges (./sntp-client.ts, and why not the ntp-time-sync package) with T1/T4
 * stamped on the monotonic clock and T2/T3 the server's UTC, fed to an OffsetEstimator: it keeps
 * the lowest-delay exchanges of a long window (16 polls), fits the skew between the monotonic
 * clock and the server's UTC under them, and bounds the error by half the fastest round trip.
 * A poll is a burst of samplesPerPoll exchanges sampleSpacingMs apart (default 2 s, the spacing of
 * ntpd's iburst: ntpd servers with `restrict … limited` drop or kiss-o'-death clients that send
 * faster), every pollIntervalMs. Because polls are sparse, the skew is only fitted once the
 * samples span a poll interval (before that: the smallest skew the samples allow, usually 0),
 * so a skew guessed from one short burst is never extrapolated over a whole interval.
 * Kiss-o'-death RATE doubles the poll interval (up to 16×); DENY/RSTR stops polling (the clock
 * then free-runs on its last estimate). A poll without valid replies keeps the estimate and
 * logs once per distinct problem; a host name is resolved again after such a poll.
 *
 * Slew, don't step: until start() resolves, the output follows the estimator directly. After
 * that, each estimator update at local time tu with target offset θ(l) = θu + k·(l − tu) leaves
 * a residual e = θu − (current output offset at tu), and the output becomes
 *   offset(l) = θu + k·(l − tu) − e·max(0, 1 − (l − tu)/D),   D = |e| / maxSlewPpm,
 * i.e. continuous at tu, with the residual worked off linearly at maxSlewPpm (default 200 ppm:
 * 1 ms per 5 s), then plain θ(l). So toShared is continuous and strictly increasing (slope
 * 1 + k ± maxSlew) and toLocal is its exact inverse. Only a residual beyond stepThresholdMs
 * (default 128 ms, as ntpd; e.g. the server's clock was stepped) is applied as a step, and logged.
 * Mappings of past local times use the current segment extended backwards.
 */
import { isIP } from 'node:net';
import { monotonicMs } from './monotonic.js';
import { localMs, sharedMs, type LocalMs, type SharedMs } from './time.js';
import { OffsetEstimator } from './offset-estimator.js';
import {
  NtpError,
  formatHostPort,
  resolveNtpServer,
  sntpQuery,
  type NtpExchange,
  type ResolvedServer,
  type SntpQueryOptions,
} from './sntp-client.js';

export interface NtpClockOptions {
  /** host[:port]; IPv6 literals as [addr]:port or bare addr. Default port 123. */
  server: string;
  /** Time between polls. Default 64 000. */
  pollIntervalMs?: number;
  /** Exchanges per poll (a burst); the estimator keeps the lowest-delay ones. Default 4. */
  samplesPerPoll?: number;
  /** start() gives up after this long without a valid reply. Default 15 000. */
  timeoutMs?: number;
  log?: (msg: string) => void;
  /** Spacing of the exchanges within a burst. Default 2000 (do not go lower with public servers). */
  sampleSpacingMs?: number;
  /** Wait for one reply at most this long. Default 2000 (capped by what is left of timeoutMs). */
  replyTimeoutMs?: number;
  /** Rate at which a correction is slewed in, ppm. Default 200. */
  maxSlewPpm?: number;
  /** A correction larger than this is stepped instead of slewed (and logged). Default 128. */
  stepThresholdMs?: number;
  /** Local clock (ms). Default monotonicMs. For tests. */
  now?: () => number;
  /** One exchange. Default sntpQuery. For tests. */
  query?: (opts: SntpQueryOptions) => Promise<NtpExchange>;
  /** Host resolution. Default resolveNtpServer. For tests. */
  resolve?: (host: string, port: number) => Promise<ResolvedServer>;
}

/** Parses "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6 literal. Throws with a clear message. */
export function parseNtpServer(s: string): { host: string; port: number } {
  const input = String(s ?? '').trim();
  const usage = `expected HOST or HOST:PORT (IPv6 as [ADDR]:PORT), e.g. pool.ntp.org or 192.168.1.10:123`;
  if (input === '') throw new Error(`--ntp: empty NTP server; ${usage}`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) throw new Error(`--ntp: "${input}" is a URL; ${usage}`);
  if (/\s/.test(input)) throw new Error(`--ntp: "${input}" contains whitespace; ${usage}`);
  let host: string;
  let portText: string | undefined;
  if (input.startsWith('[')) {
    const close = input.indexOf(']');
    if (close < 0) throw new Error(`--ntp: "${input}" has "[" without "]"; ${usage}`);
    host = input.slice(1, close);
    const rest = input.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new Error(`--ntp: unexpected "${rest}" after "]" in "${input}"; ${usage}`);
      portText = rest.slice(1);
    }
    if (!host.includes(':')) throw new Error(`--ntp: "[${host}]" is not an IPv6 address; ${usage}`);
  } else {
    const colons = input.split(':').length - 1;
    if (colons === 1) {
      const i = input.indexOf(':');
      host = input.slice(0, i);
      portText = input.slice(i + 1);
    } else {
      host = input; // no port, or a bare IPv6 literal (which cannot carry one)
    }
  }
  if (host === '') throw new Error(`--ntp: missing host in "${input}"; ${usage}`);
  if (!host.includes(':') && !/^[A-Za-z0-9._-]+$/.test(host)) {
    throw new Error(`--ntp: "${host}" is not a valid host name or address; ${usage}`);
  }
  let port = 123;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) throw new Error(`--ntp: port "${portText}" in "${input}" is not a number; ${usage}`);
    port = Number(portText);
    if (port < 1 || port > 65535) throw new Error(`--ntp: port ${port} in "${input}" is out of range 1–65535`);
  }
  return { host, port };
}

/** Output segment: offset(l) = base + k·(l − tu) − e·max(0, 1 − (l − tu)/d). */
interface Segment {
  tu: number;
  base: number;
  k: number;
  e: number;
  d: number;
}

const DEFAULTS = {
  pollIntervalMs: 64_000,
  samplesPerPoll: 4,
  timeoutMs: 15_000,
  sampleSpacingMs: 2000,
  replyTimeoutMs: 2000,
  maxSlewPpm: 200,
  stepThresholdMs: 128,
};

export class NtpClock {
  private readonly host: string;
  private readonly port: number;
  private readonly where: string;
  private readonly cfg: typeof DEFAULTS;
  private readonly log: (msg: string) => void;
  private readonly now: () => number;
  private readonly query: (opts: SntpQueryOptions) => Promise<NtpExchange>;
  private readonly resolve: (host: string, port: number) => Promise<ResolvedServer>;
  private readonly est: OffsetEstimator;
  private server: ResolvedServer | undefined;
  private seg: Segment | null = null;
  private slewing = false;
  private stopped = false;
  private startPromise: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly sleepers = new Set<() => void>();
  private currentPollMs: number;
  private lastSyncLocal: number | null = null;
  private lastPollProblem = '';
  private lastExchange: NtpExchange | undefined;

  constructor(opts: NtpClockOptions) {
    const { host, port } = parseNtpServer(opts.server);
    this.host = host;
    this.port = port;
    this.where = formatHostPort(host, port);
    const pick = <K extends keyof typeof DEFAULTS>(k: K): number => {
      const v = opts[k];
      if (v === undefined) return DEFAULTS[k];
      if (!Number.isFinite(v) || v < 0) throw new Error(`NtpClock: ${k} must be a non-negative number (got ${v})`);
      return v;
    };
    this.cfg = {
      pollIntervalMs: pick('pollIntervalMs'),
      samplesPerPoll: Math.max(1, Math.round(pick('samplesPerPoll'))),
      timeoutMs: pick('timeoutMs'),
      sampleSpacingMs: pick('sampleSpacingMs'),
      replyTimeoutMs: pick('replyTimeoutMs'),
      maxSlewPpm: Math.max(1, pick('maxSlewPpm')),
      stepThresholdMs: pick('stepThresholdMs'),
    };
    this.currentPollMs = this.cfg.pollIntervalMs;
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? monotonicMs;
    this.query = opts.query ?? sntpQuery;
    this.resolve = opts.resolve ?? resolveNtpServer;
    // Polls are sparse (a burst every pollIntervalMs), so a skew fitted on one burst would be
    // extrapolated over a whole interval: assume the smallest skew the samples allow until they
    // span two polls, unless the path is very quiet (jitter ≤ 5 ppm of the span).
    this.est = new OffsetEstimator({
      minSamples: 1,
      windowMs: Math.max(300_000, 16 * this.cfg.pollIntervalMs),
      maxSamples: 400,
      // each SNTP exchange is a point of its own (a burst's are 100 ms apart, not a chain)
      pointMs: 0,
      minSkewSpanMs: Math.max(20_000, this.cfg.pollIntervalMs),
      earlySkewMaxJitterPpm: 5,
    });
  }

  /** The server as given (host:port). */
  get serverName(): string {
    return this.where;
  }

  /**
   * First synchronisation: one burst of samplesPerPoll exchanges (retrying until timeoutMs while
   * none is valid). Rejects with a message saying what to check. Then polls in the background.
   */
  start(): Promise<void> {
    this.startPromise ??= this.firstSync();
    return this.startPromise;
  }

  stop(): void {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    for (const wake of [...this.sleepers]) wake();
  }

  /** UTC ms now: monotonicMs() + offset, smooth between and across polls. */
  nowUtcMs(): SharedMs {
    return this.toShared(localMs(this.now()));
  }

  /** Local monotonic ms → UTC ms. Throws before the first synchronisation. */
  toShared(local: LocalMs): SharedMs {
    return sharedMs(local + this.outputOffset(local));
  }

  /** UTC ms → local monotonic ms; the exact inverse of toShared. Throws before the first synchronisation. */
  toLocal(shared: SharedMs): LocalMs {
    const s = this.segment();
    const rel = shared - s.base - s.tu; // = (1 + k)·dt − residual(dt)
    if (s.d > 0 && s.e !== 0) {
      const dt1 = (rel + s.e) / (1 + s.k + s.e / s.d);
      if (dt1 <= s.d) return localMs(s.tu + dt1);
    }
    return localMs(s.tu + rel / (1 + s.k));
  }

  /** UTC − monotonic (ms) now, as used by the mapping; 0 before the first synchronisation. */
  get offsetMs(): number {
    return this.seg ? this.outputOffset(this.now()) : 0;
  }

  /** Rate of the server's UTC relative to the local monotonic clock, ppm (estimate, without slew). */
  get skewPpm(): number {
    return this.est.skewPpm;
  }

  /** Smallest round trip in the estimator's window (Infinity before any exchange). */
  get rttMs(): number {
    return this.est.rttMs;
  }

  get isReady(): boolean {
    return this.seg !== null;
  }

  /**
   * Bound on the error of nowUtcMs() relative to the server's clock (not to true UTC: add the
   * server's root distance for that): the estimator's bound (≤ half the fastest round trip) plus
   * the part of a correction still being slewed in. Infinity before the first synchronisation.
   */
  get errorBoundMs(): number {
    if (!this.seg) return Infinity;
    return this.est.errorBoundMs + Math.abs(this.residual(this.seg, this.now() - this.seg.tu));
  }

  /** Local ms since the last valid exchange, or null before any. */
  get lastSyncAgeMs(): number | null {
    return this.lastSyncLocal === null ? null : this.now() - this.lastSyncLocal;
  }

  /** The server's root distance (root delay/2 + root dispersion) from the last reply, ms. */
  get serverRootDistanceMs(): number {
    const x = this.lastExchange;
    return x ? x.rootDelayMs / 2 + x.rootDispersionMs : Infinity;
  }

  /** The server's stratum from the last reply (undefined before any). */
  get serverStratum(): number | undefined {
    return this.lastExchange?.stratum;
  }

  // --- internals ---

  private segment(): Segment {
    if (!this.seg) throw new Error(`NtpClock: not synchronised with ${this.where} yet (await start() first)`);
    return this.seg;
  }

  private residual(s: Segment, dt: number): number {
    return s.d > 0 && dt < s.d ? s.e * (1 - dt / s.d) : 0;
  }

  private outputOffset(localMs: number): number {
    const s = this.segment();
    const dt = localMs - s.tu;
    return s.base + s.k * dt - this.residual(s, dt);
  }

  private addExchange(x: NtpExchange): void {
    if (this.stopped) return;
    this.est.addSample({ t1: x.t1, t2: x.t2, t3: x.t3, t4: x.t4 });
    if (this.est.sampleCount === 0) return;
    this.lastSyncLocal = x.t4;
    this.lastExchange = x;
    const tu = this.now();
    const base = this.est.offsetAt(tu);
    const k = this.est.skewPpm * 1e-6;
    let e = 0;
    if (this.seg && this.slewing) {
      e = base - this.outputOffset(tu);
      if (Math.abs(e) > this.cfg.stepThresholdMs) {
        this.log(
          `NTP: clock of ${this.where} moved by ${e.toFixed(1)} ms (more than ${this.cfg.stepThresholdMs} ms): stepping the shared clock`,
        );
        e = 0;
      }
    }
    const d = Math.abs(e) / (this.cfg.maxSlewPpm * 1e-6);
    this.seg = { tu, base, k, e, d };
  }

  /** Cancellable by stop(). keepAlive false: does not hold the process open (background polls). */
  private sleep(ms: number, keepAlive: boolean): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      if (!keepAlive) t.unref?.();
      this.sleepers.add(wake);
    });
  }

  private async ensureResolved(force = false): Promise<ResolvedServer> {
    if (!this.server || force) {
      const r = await this.resolve(this.host, this.port);
      if (this.server && this.server.address !== r.address) {
        this.log(`NTP: ${this.host} now resolves to ${r.address} (was ${this.server.address})`);
      }
      this.server = r;
    }
    return this.server;
  }

  /** One exchange, resolving the host first if needed; the exchange is added to the estimator. */
  private async exchange(replyTimeoutMs: number): Promise<NtpExchange> {
    const server = await withTimeout(
      this.ensureResolved(),
      replyTimeoutMs,
      () => new NtpError('DNS', `resolving "${this.host}" took longer than ${replyTimeoutMs} ms`),
    );
    const x = await this.query({ server, timeoutMs: replyTimeoutMs, now: this.now });
    this.addExchange(x);
    return x;
  }

  private async firstSync(): Promise<void> {
    const { samplesPerPoll, replyTimeoutMs, timeoutMs } = this.cfg;
    let { sampleSpacingMs } = this.cfg;
    const t0 = this.now();
    const deadline = t0 + timeoutMs;
    let valid = 0;
    let attempts = 0;
    let lastErr: NtpError | undefined;
    this.log(`NTP: synchronising with ${this.where} (${samplesPerPoll} exchanges, ${sampleSpacingMs} ms apart)`);
    while (!this.stopped) {
      const remaining = deadline - this.now();
      if (remaining <= 0) break;
      const sentAt = this.now();
      attempts++;
      const waitMs = Math.max(1, Math.min(replyTimeoutMs, remaining));
      try {
        await this.exchange(waitMs);
        valid++;
      } catch (e) {
        const err = asNtpError(e);
        // A last attempt cut short by the deadline says less than the error before it (a refusal
        // takes a moment to come back as ICMP): keep the earlier one.
        const clipped = err.code === 'TIMEOUT' && waitMs < replyTimeoutMs && lastErr !== undefined;
        if (!clipped) lastErr = err;
        if (err.code === 'KOD' && (err.kissCode === 'DENY' || err.kissCode === 'RSTR')) break;
        if (err.code === 'KOD') sampleSpacingMs = Math.max(2 * sampleSpacingMs, 1000);
        if (err.code === 'DNS') this.server = undefined;
      }
      if (valid >= samplesPerPoll || (valid > 0 && attempts >= 2 * samplesPerPoll)) break;
      const wait = sentAt + sampleSpacingMs - this.now();
      if (valid > 0 && this.now() + wait >= deadline) break;
      await this.sleep(Math.min(wait, deadline - this.now()), true);
    }
    if (this.stopped) throw new Error(`NtpClock: stopped before synchronising with ${this.where}`);
    if (valid === 0) {
      const secs = ((this.now() - t0) / 1000).toFixed(1);
      throw new Error(
        `NTP server ${this.where} gave no usable time in ${secs} s (${attempts} request${attempts === 1 ? '' : 's'}): ` +
          explain(lastErr, this.where, this.port),
      );
    }
    this.slewing = true;
    this.log(
      `NTP: synchronised with ${this.where} (stratum ${this.lastExchange?.stratum}, offset UTC−monotonic ` +
        `${this.offsetMs.toFixed(3)} ms, rtt ${this.rttMs.toFixed(3)} ms, ±${this.est.errorBoundMs.toFixed(3)} ms, ` +
        `${valid}/${attempts} valid)`,
    );
    this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      this.poll().catch(() => {
        // Only a throwing log callback can get here; keep polling regardless.
        this.schedulePoll();
      });
    }, this.currentPollMs);
    this.pollTimer.unref?.();
  }

  private async poll(): Promise<void> {
    const { samplesPerPoll, sampleSpacingMs, replyTimeoutMs } = this.cfg;
    let valid = 0;
    let lastErr: NtpError | undefined;
    let denied = false;
    let rate = false;
    for (let i = 0; i < samplesPerPoll && !this.stopped; i++) {
      const sentAt = this.now();
      try {
        await this.exchange(replyTimeoutMs);
        valid++;
      } catch (e) {
        lastErr = asNtpError(e);
        if (lastErr.code === 'KOD') {
          if (lastErr.kissCode === 'DENY' || lastErr.kissCode === 'RSTR') denied = true;
          else rate = true;
          break;
        }
      }
      if (i + 1 < samplesPerPoll) await this.sleep(sentAt + sampleSpacingMs - this.now(), false);
    }
    if (this.stopped) return;
    if (valid > 0) {
      if (this.lastPollProblem) this.log(`NTP: ${this.where} answers again`);
      this.lastPollProblem = '';
    } else if (lastErr) {
      const age = ((this.lastSyncAgeMs ?? 0) / 1000).toFixed(0);
      const msg = `NTP: no valid reply from ${this.where} in this poll (${lastErr.message}); keeping the last estimate (last sync ${age} s ago)`;
      if (lastErr.message !== this.lastPollProblem) this.log(msg);
      this.lastPollProblem = lastErr.message;
      // The name may point elsewhere now (pool rotation, DHCP).
      if (!isIpLiteral(this.host)) this.server = undefined;
    }
    if (denied) {
      this.log(`NTP: ${this.where} refuses this client (kiss-o'-death ${lastErr?.kissCode}); no more polls, the clock free-runs`);
      return;
    }
    if (rate) {
      this.currentPollMs = Math.min(this.currentPollMs * 2, Math.max(this.cfg.pollIntervalMs, 1) * 16);
      this.log(`NTP: ${this.where} asks to poll less often (kiss-o'-death RATE); polling every ${(this.currentPollMs / 1000).toFixed(0)} s`);
    }
    this.schedulePoll();
  }
}

function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

function asNtpError(e: unknown): NtpError {
  return e instanceof NtpError ? e : new NtpError('NETWORK', e instanceof Error ? e.message : String(e));
}

function explain(err: NtpError | undefined, where: string, port: number): string {
  if (!err) return 'no reply. Check the --ntp host and port and that UDP to it is not blocked.';
  switch (err.code) {
    case 'REFUSED':
      return `${err.message}. Check the port in --ntp and that the NTP server is running there.`;
    case 'TIMEOUT':
      return (
        `${err.message}. Check the --ntp host and port, that the server allows queries from this machine ` +
        `(chrony: "allow"), and that UDP port ${port} is not blocked by a firewall.`
      );
    case 'DNS':
      return `${err.message}. Check the host name in --ntp (or use an IP address).`;
    case 'UNSYNCHRONIZED':
      return (
        `${err.message}. Check the server's own time sources (chronyc sources), or let it serve its ` +
        `local clock (chrony: "local stratum 8").`
      );
    case 'KOD':
      return `${err.message}. Check the server's access rules for this machine, or use another server.`;
    case 'INVALID':
      return `${err.message}. Check that ${where} is an NTP server.`;
    default:
      return `${err.message}. Check the network path to ${where}.`;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    t.unref?.();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
