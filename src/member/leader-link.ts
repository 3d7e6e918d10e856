/**
 * The member's connection to its leader: handshake, clock exchanges, status reports, and
 * reconnection with backoff. It never stops trying; while the leader is away the member keeps
 * following the last timeline on its current clock estimate.
 */
import { TIME_EXCHANGE, chainSpacingMs, isNoisyLink, noisyExchangeSpacingMs } from './time-exchange.js';
import { ReconnectBackoff, type ReconnectTunables } from './reconnect-backoff.js';
import { sharedMs, type SharedMs } from '../clock/time.js';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { monotonicMs } from '../clock/monotonic.js';
import { OffsetEstimator } from '../clock/offset-estimator.js';
import type { ClockMapping } from '../clock/clock-mapping.js';
import type { Logger } from '../log/logger.js';
import {
  JsonLineConnection,
  PROTOCOL_VERSION,
  leaderProof,
  leaderToMember,
  memberProof,
  newNonce,
  proofsMatch,
  sessionKeys,
  LineAuth,
  type LeaderMessage,
  type MemberMessage,
  type MemberSettings,
  type ReplyMessage,
  type SweepSpecMessage,
  type StatusMessage,
  type PlaylistInfo,
  type PlaylistPageMessage,
  type Timeline,
} from '../protocol/index.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface LeaderLinkOptions {
  host: string;
  port: number;
  name: string;
  secret: string | null;
  version: string;
  log: Logger;
  /** this member's part of a status report: a fresh object each call (the link adds its clock fields to it) */
  status: () => Omit<StatusMessage, 'type' | 'clockOffsetMs' | 'rttMs' | 'clockSkewPpm'>;
  /** time exchanges per second after the initial burst */
  exchangeHz?: number;
  /** 'calibrator' joins to run calibrations rather than to play (default 'member') */
  role?: 'member' | 'calibrator';
  /** this device's stable id (device-id.ts) */
  deviceId?: string;
  /** this device's NTP clock (--ntp): used as the shared clock when the leader's is UTC too */
  ntp?: ClockMapping | null;
  /** when to try again after a connection ends (reconnect-backoff.ts) */
  reconnect?: Partial<ReconnectTunables>;
  /** opens the connection (default: TCP); a test passes an in-memory socket */
  connect?: (host: string, port: number) => Socket;
}

export interface LeaderLinkEvents {
  welcome: [playlist: PlaylistInfo, timeline: Timeline];
  timeline: [timeline: Timeline];
  playlist: [playlist: PlaylistInfo];
  'playlist-page': [page: PlaylistPageMessage];
  settings: [settings: MemberSettings];
  'play-signal': [at: SharedMs, signal: SweepSpecMessage];
  connected: [];
  disconnected: [reason: string];
}

const { burstCount: BURST_COUNT, burstIntervalMs: BURST_INTERVAL_MS, chainLength: CHAIN_LENGTH } = TIME_EXCHANGE;
const LEADER_SILENCE_MS = 5000;
/** Unanswered time requests remembered (the newest): older replies are no clock sample anyway. */
const IN_FLIGHT_SLOTS = 50;
/** A playing timeline's instant this far from now (either way) is not a party we are in: refused. */
const MAX_INSTANT_DISTANCE_MS = 7 * 24 * 3600 * 1000;
/** A time reply the leader held longer than this, or a round trip longer, is no clock sample. */
const MAX_EXCHANGE_MS = 5000;

export class LeaderLink extends EventEmitter<LeaderLinkEvents> {
  /** The estimate in use. A fresh one replaces it after a reconnect once it is ready. */
  clock = new OffsetEstimator();
  private pendingClock: OffsetEstimator | null = null;
  private conn: JsonLineConnection<LeaderMessage, MemberMessage> | null = null;
  private socket: Socket | null = null;
  private joined = false;
  private stopped = false;
  private readonly backoff: ReconnectBackoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private exchangeTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lastHeardMs = 0;
  private nextExchangeId = 1;
  /**
   * Time requests awaiting their reply: request id → t1, in a ring indexed by id (ids count up),
   * so the 50 newest are kept without a Map reallocating its table on every reply.
   */
  private readonly inFlightIds = new Float64Array(IN_FLIGHT_SLOTS);
  private readonly inFlightT1 = new Float64Array(IN_FLIGHT_SLOTS);
  /** the chain in progress: its latest request id and how many requests are still to follow */
  private chainId = 0;
  private chainLeft = 0;
  /** whether the link counted as noisy at the last chain (faster chains) */
  private noisyLink = false;
  /** the spacing between chains the leader asked for in its last time reply, ms (0: none) */
  private leaderPaceMs = 0;
  private clientNonce = '';
  private nextRequestId = 1;
  private readonly pendingRequests = new Map<number, { resolve: (r: ReplyMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  lastError: string | null = null;
  /** the timeline and playlist last heard from the leader: offered back to a restarted one */
  private lastTimeline: Timeline | null = null;
  private lastPlaylistDigest: string | null = null;
  /** the port the leader serves playlist files on, from its welcome (null: it serves none) */
  filesPort: number | null = null;

  constructor(private readonly opts: LeaderLinkOptions) {
    super();
    this.backoff = new ReconnectBackoff(opts.reconnect);
  }

  get isJoined(): boolean {
    return this.joined;
  }

  /** Where to fetch playlist files: the leader's address on this connection and its file port. */
  filesSource(): { host: string; port: number } | null {
    if (!this.joined || this.filesPort === null) return null;
    return { host: this.socket?.remoteAddress ?? this.opts.host, port: this.filesPort };
  }

  private leaderClockKind: 'monotonic' | 'utc' | null = null;

  /**
   * The shared-clock mapping to play by, or null before one exists: this device's own NTP clock
   * when both sides use UTC through NTP (it keeps working without the leader), else the estimate
   * of the leader's clock from the time exchanges.
   */
  get readyClock(): ClockMapping | null {
    const ntp = this.opts.ntp;
    if (ntp && this.leaderClockKind === 'utc' && ntp.isReady) return ntp;
    return this.clock.isReady ? this.clock : null;
  }

  start(): void {
    this.stopped = false;
    this.connectNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.teardown('stopping');
    this.socket?.destroy();
  }

  private connectNow(): void {
    if (this.stopped) return;
    const { host, port, log } = this.opts;
    log.debug(`connecting to ${host}:${port}`);
    const socket = this.opts.connect ? this.opts.connect(host, port) : connect({ host, port });
    this.socket = socket;
    socket.setKeepAlive(true, 2000);
    this.clientNonce = newNonce();
    this.joined = false;
    this.lastHeardMs = monotonicMs();
    let failure: string | null = null;
    this.conn = new JsonLineConnection<LeaderMessage, MemberMessage>(socket, leaderToMember, {
      onMessage: (m) => {
        this.lastHeardMs = monotonicMs();
        try {
          this.onMessage(m);
        } catch (e) {
          log.error(`handling ${m.type}: ${(e as Error).message}`);
        }
      },
      onBadInput: (code, detail) => log.warn(`bad input from leader: ${code}: ${detail}`),
      onClose: () => {
        const reason = failure ?? this.lastError ?? 'connection closed';
        this.teardown(reason);
        this.scheduleReconnect();
      },
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      failure = e.code === 'ECONNREFUSED' ? `no leader listening at ${host}:${port} (is \`syncplay leader\` running there?)` : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' ? `cannot resolve leader host "${host}"` : e.message;
    });
    this.watchdog = setInterval(() => {
      if (monotonicMs() - this.lastHeardMs > LEADER_SILENCE_MS) {
        failure = `leader silent for ${LEADER_SILENCE_MS / 1000} s`;
        socket.destroy();
      }
    }, 1000);
  }

  /** Sends a calibrator request and resolves with the leader's reply. */
  request(message: DistributiveOmit<Extract<MemberMessage, { type: 'list-members' | 'calibrate-play' | 'set-offset' }>, 'requestId'>, timeoutMs = 5000): Promise<ReplyMessage> {
    if (!this.joined) return Promise.reject(new Error('not connected to the leader'));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingRequests.delete(requestId);
        reject(new Error(`the leader did not answer ${message.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pendingRequests.set(requestId, { resolve, reject, timer });
      this.send({ ...message, requestId } as MemberMessage);
    });
  }

  private teardown(reason: string): void {
    for (const [id, p] of this.pendingRequests) {
      clearTimeout(p.timer);
      p.reject(new Error(`lost the leader (${reason})`));
      this.pendingRequests.delete(id);
    }
    for (const t of [this.exchangeTimer, this.statusTimer, this.watchdog]) if (t) clearInterval(t);
    this.exchangeTimer = this.statusTimer = this.watchdog = null;
    this.inFlightIds.fill(0);
    this.leaderPaceMs = 0;
    this.pendingClock = null;
    const wasJoined = this.joined;
    this.joined = false;
    this.conn = null;
    if (wasJoined && this.stopped) {
      this.emit('disconnected', reason);
    } else if (wasJoined) {
      this.backoff.lost(monotonicMs());
      this.opts.log.warn(`lost the leader (${reason}); playing on from the last timeline`);
      this.emit('disconnected', reason);
    } else if (!this.stopped) {
      this.opts.log.warn(`cannot join leader: ${reason}`);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = this.backoff.nextDelayMs(monotonicMs());
    this.opts.log.info(`reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.reconnectTimer = setTimeout(() => this.connectNow(), delay);
  }

  private send(m: MemberMessage): void {
    this.conn?.send(m);
  }

  private onMessage(m: LeaderMessage): void {
    switch (m.type) {
      case 'server-hello': {
        if (m.protocol !== PROTOCOL_VERSION) {
          this.lastError = `leader speaks protocol ${m.protocol} (syncplay ${m.version}), this member ${PROTOCOL_VERSION} (syncplay ${this.opts.version}): run the same version everywhere`;
          this.conn?.end();
          return;
        }
        if (this.leaderClockKind !== m.clock) {
          if (m.clock === 'utc' && this.opts.ntp) this.opts.log.info('leader and member both keep UTC through NTP: playing by the NTP clock');
          if (m.clock === 'monotonic' && this.opts.ntp) this.opts.log.warn('this member has --ntp but the leader does not: following the leader\'s own clock');
        }
        this.leaderClockKind = m.clock;
        if (m.authRequired && this.opts.secret === null) {
          this.lastError = 'the leader requires a secret: pass --secret-file with the leader\'s secret';
        }
        const proof = this.opts.secret !== null ? memberProof(this.opts.secret, m.nonce, this.opts.name) : undefined;
        // What we play, offered to a leader that lost its saved party (only with a secret: an open party adopts nothing).
        const clock = this.readyClock;
        const resume = proof && this.lastTimeline && this.lastPlaylistDigest && clock ? { timeline: this.lastTimeline, playlistDigest: this.lastPlaylistDigest, sharedNowMs: clock.toShared(monotonicMs()) } : undefined;
        this.send({ type: 'hello', protocol: PROTOCOL_VERSION, name: this.opts.name, clientNonce: this.clientNonce, version: this.opts.version, role: this.opts.role ?? 'member', ...(this.opts.deviceId ? { deviceId: this.opts.deviceId } : {}), ...(proof ? { proof } : {}), ...(resume ? { resume } : {}) });
        // From here every line both ways is tagged with keys from both nonces (line-auth.ts).
        if (this.opts.secret !== null && m.authRequired) this.conn?.authenticate(new LineAuth(sessionKeys(this.opts.secret, m.nonce, this.clientNonce, 'member')), true);
        return;
      }
      case 'welcome': {
        if (this.opts.secret !== null && (!proofsMatch(leaderProof(this.opts.secret, this.clientNonce), m.leaderProof) || !this.conn?.isAuthenticated)) {
          this.lastError = 'the leader did not prove it knows the secret; refusing to follow it';
          this.conn?.end();
          return;
        }
        this.joined = true;
        this.filesPort = m.files?.port ?? null;
        this.lastError = null;
        this.backoff.joined();
        this.opts.log.info(`joined leader ${this.opts.host}:${this.opts.port} as "${this.opts.name}" (playlist version ${m.playlist.version}: ${m.playlist.count} tracks)`);
        this.startExchanges();
        if ((this.opts.role ?? 'member') === 'member') this.statusTimer = setInterval(() => this.sendStatus(), TIME_EXCHANGE.statusIntervalMs);
        this.emit('connected');
        if (m.playlist.count > 0) this.lastPlaylistDigest = m.playlist.digest;
        if (this.timelineProblem(m.timeline) === null) this.lastTimeline = m.timeline;
        this.emit('welcome', m.playlist, this.timelineProblem(m.timeline) === null ? m.timeline : { ...m.timeline, state: 'stopped' });
        return;
      }
      case 'time-res':
        return this.onTimeResponse(m);
      case 'timeline':
      case 'heartbeat': {
        const problem = this.timelineProblem(m.timeline);
        if (problem !== null) return this.refused(`timeline #${m.timeline.seq}`, problem);
        if (!this.lastTimeline || m.timeline.seq !== this.lastTimeline.seq || m.type === 'timeline') this.lastTimeline = m.timeline;
        return void this.emit('timeline', m.timeline);
      }
      case 'playlist':
        if (m.playlist.count > 0) this.lastPlaylistDigest = m.playlist.digest;
        return void this.emit('playlist', m.playlist);
      case 'playlist-page':
        return void this.emit('playlist-page', m);
      case 'settings':
        return void this.emit('settings', m.settings);
      case 'play-signal':
        return void this.emit('play-signal', sharedMs(m.at), m.signal);
      case 'reply': {
        const pending = this.pendingRequests.get(m.requestId);
        if (!pending) return;
        clearTimeout(pending.timer);
        this.pendingRequests.delete(m.requestId);
        pending.resolve(m);
        return;
      }
      case 'error':
        this.lastError = `leader says: ${m.message}`;
        this.opts.log.warn(`leader error ${m.code}: ${m.message}`);
        return;
    }
  }

  private lastRefusedLogMs = -Infinity;

  /** Refused input from the leader is logged at most every 10 s. */
  private refused(what: string, reason: string): void {
    const now = monotonicMs();
    if (now - this.lastRefusedLogMs < 10_000) return;
    this.lastRefusedLogMs = now;
    this.opts.log.warn(`refused ${what} from the leader: ${reason}`);
  }

  /** Why a timeline cannot be followed (its instant absurdly far from now), or null. */
  private timelineProblem(t: Timeline): string | null {
    if (t.state !== 'playing') return null;
    const clock = this.readyClock;
    if (!clock) return null;
    const distance = t.at - clock.toShared(monotonicMs());
    if (Math.abs(distance) > MAX_INSTANT_DISTANCE_MS) return `its instant is ${(distance / 86_400_000).toFixed(1)} days from now (at most 7 accepted)`;
    return null;
  }

  private startExchanges(): void {
    // A fresh estimate for this connection: the path (or the leader) may have changed.
    this.pendingClock = this.clock.isReady ? new OffsetEstimator() : null;
    let burst = 0;
    const tick = (): void => {
      this.requestTime();
      burst += 1;
      if (burst === BURST_COUNT) {
        if (this.exchangeTimer) clearInterval(this.exchangeTimer);
        this.exchangeTimer = setTimeout(this.steadyChain, this.chainSpacingMs());
      }
    };
    this.exchangeTimer = setInterval(tick, BURST_INTERVAL_MS);
    tick();
  }

  /**
   * After the burst: a chain, then the next one a spacing later (the leader may ask for a slower
   * pace meanwhile). On a noisy link a chain's exchanges go out evenly spread over its spacing
   * instead, each on its own (noisyExchangeSpacingMs): no waiting for replies.
   */
  private readonly steadyChain = (): void => {
    const spreadMs = this.fed.rttSpreadMs;
    const spacing = this.chainSpacingMs(spreadMs);
    if (this.noisyLink) {
      this.exchangeTimer = setTimeout(this.steadyChain, noisyExchangeSpacingMs(spacing, spreadMs));
      this.requestTime(0);
      return;
    }
    this.exchangeTimer = setTimeout(this.steadyChain, spacing);
    this.requestTime();
  };

  /** The estimate this link's exchanges feed: the one for this connection while it is not ready yet. */
  private get fed(): OffsetEstimator {
    return this.pendingClock ?? this.clock;
  }

  /**
   * ms between chains after the burst: this member's own rate (faster while the link is noisy or
   * the estimate young), or the slower pace its leader asks for (bounded). `rttSpreadMs`: the fed
   * estimate's round-trip spread, when the caller has it already.
   */
  chainSpacingMs(rttSpreadMs: number = this.fed.rttSpreadMs): number {
    this.noisyLink = isNoisyLink(rttSpreadMs, this.noisyLink);
    const young = this.fed.spanMs < TIME_EXCHANGE.youngSpanMs;
    const ownHz = this.noisyLink ? TIME_EXCHANGE.noisyHz : young ? TIME_EXCHANGE.youngHz : TIME_EXCHANGE.steadyHz;
    return chainSpacingMs(this.leaderPaceMs, this.opts.exchangeHz ?? ownHz);
  }

  private requestTime(chainLeft = CHAIN_LENGTH - 1): void {
    const id = this.nextExchangeId++;
    this.chainId = id;
    this.chainLeft = chainLeft;
    const t1 = monotonicMs();
    this.inFlightIds[id % IN_FLIGHT_SLOTS] = id;
    this.inFlightT1[id % IN_FLIGHT_SLOTS] = t1;
    this.send({ type: 'time-req', id, t1 });
  }

  private onTimeResponse(m: Extract<LeaderMessage, { type: 'time-res' }>): void {
    const t4 = monotonicMs();
    const slot = m.id % IN_FLIGHT_SLOTS;
    if (!Number.isInteger(m.id) || m.id <= 0 || this.inFlightIds[slot] !== m.id || this.inFlightT1[slot] !== m.t1) return;
    this.inFlightIds[slot] = 0;
    if (!(m.t3 >= m.t2 && m.t3 - m.t2 < MAX_EXCHANGE_MS && t4 - m.t1 < MAX_EXCHANGE_MS)) {
      this.refused('a time reply', `held ${(m.t3 - m.t2).toFixed(1)} ms by the leader, ${(t4 - m.t1).toFixed(1)} ms round trip`);
      return;
    }
    this.leaderPaceMs = m.paceMs ?? 0;
    // The next of the chain goes out before anything else, while both ends are awake.
    if (m.id === this.chainId && this.chainLeft > 0 && this.joined) this.requestTime(this.chainLeft - 1);
    const sample = { t1: m.t1, t2: m.t2, t3: m.t3, t4 };
    if (this.pendingClock) {
      this.pendingClock.addSample(sample);
      if (this.pendingClock.isReady) {
        this.clock = this.pendingClock;
        this.pendingClock = null;
      }
    } else {
      this.clock.addSample(sample);
    }
  }

  private sendStatus(): void {
    const ready = this.readyClock;
    // The provider's fresh object is completed in place: one object per report, one hidden class
    // (test/member/member-status.test.ts; why that matters: member-status.ts).
    const status = this.opts.status() as StatusMessage;
    status.type = 'status';
    status.clockOffsetMs = ready ? ready.offsetMs : null;
    status.rttMs = ready ? ready.rttMs : null;
    status.clockSkewPpm = ready ? ready.skewPpm : null;
    this.send(status);
  }
}
