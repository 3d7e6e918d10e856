/**
 * One member's connection as the leader sees it: the handshake (protocol version, name,
 * shared-secret proof), the time exchange it answers, and the last status the member reported.
 */
import type { Socket } from 'node:net';
import { monotonicMs } from '../clock/monotonic.js';
import { localMs, type LocalMs, type SharedMs } from '../clock/time.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_LIMITS, type LeaderLimits } from './limits.js';
import { isLocalAddress } from './local-address.js';
import { TokenBucket } from './token-bucket.js';
import {
  JsonLineConnection,
  PROTOCOL_VERSION,
  MAX_LINE_BYTES,
  leaderProof,
  memberProof,
  memberToLeader,
  newNonce,
  proofsMatch,
  sessionKeys,
  LineAuth,
  type LeaderMessage,
  type MemberMessage,
  type ReplyMessage,
  type StatusMessage,
  type Timeline,
  PageSender,
  type PageSink,
  type PlaylistPages,
} from '../protocol/index.js';
import type { AuthKind, LeaderPairing, PartyAccess } from '../party/party-access.js';

export interface SessionContext {
  /** who may join: the party secret, paired members' keys, the join code (or an open party) */
  access: PartyAccess;
  version: string;
  /** the shared clock: time exchanges are answered in it */
  clock: () => SharedMs;
  clockKind: 'monotonic' | 'utc';
  /** the playlist in force, paged for the wire */
  playlist: () => PlaylistPages;
  timeline: () => Timeline;
  /** the spacing between a member's chains of time exchanges to ask for (exchange-pace.ts), or null: none */
  exchangePaceMs?: () => number | null;
  /** the port playlist files are served on, announced in the welcome (null: not serving) */
  filesPort?: () => number | null;
  log: Logger;
  limits?: LeaderLimits;
  /** called once the member has proved itself; a string refuses it with that reason */
  onJoined: (session: MemberSession) => string | void;
  onLeft: (session: MemberSession) => void;
  /** answers a calibrator's request (list-members, calibrate-play, set-offset) */
  onCalibratorRequest: (session: MemberSession, request: CalibratorRequest) => Omit<ReplyMessage, 'type' | 'requestId'>;
}

export type CalibratorRequest = Extract<MemberMessage, { type: 'list-members' | 'calibrate-play' | 'set-offset' }>;

/** Bad-input log lines, all connections together: 5 a second, 50 at once. */
const badInputLogBudget = new TokenBucket(5, 50);
let suppressedBadInput = 0;

export class MemberSession {
  readonly address: string;
  readonly remoteAddress: string | undefined;
  name = '?';
  id = '';
  role: 'member' | 'calibrator' = 'member';
  /** the device's stable id from its hello, when it sent one */
  deviceId: string | null = null;
  /** closed because the same device came back: not reported as lost */
  replaced = false;
  /** what an authenticated member said it plays when it joined (see Leader.joined) */
  resume: NonNullable<Extract<MemberMessage, { type: 'hello' }>['resume']> | null = null;
  joined = false;
  connectedAtMs: LocalMs = monotonicMs();
  lastStatus: StatusMessage | null = null;
  lastStatusAtMs: LocalMs = localMs(0);
  /** when the last valid message arrived (monotonic ms): the leader closes peers silent too long */
  lastHeardMs: LocalMs = monotonicMs();
  badInputCount = 0;
  /** messages dropped by the rate limits */
  limitedCount = 0;
  private lastLimitLogMs = -Infinity;
  private readonly limits: LeaderLimits;
  private readonly timeRequests: TokenBucket;
  private readonly messages: TokenBucket;
  /** how this member proved itself (null: open party, or not joined) */
  authKind: AuthKind | null = null;
  /** the key its hello was proved with (the party secret, or its own key from pairing) */
  authKey: string | null = null;
  private pairing: LeaderPairing | null = null;
  private readonly conn: JsonLineConnection<MemberMessage, LeaderMessage>;
  private readonly nonce = newNonce();
  private readonly handshakeTimer: NodeJS.Timeout;
  private pageSender: PageSender | null = null;
  /** bytes of playlist pages sent on this connection */
  playlistBytes = 0;

  constructor(private readonly socket: Socket, private readonly ctx: SessionContext) {
    this.address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.remoteAddress = socket.remoteAddress;
    const limits = (this.limits = ctx.limits ?? DEFAULT_LIMITS);
    this.timeRequests = new TokenBucket(limits.timeRequestsPerSec, limits.timeRequestBurst, monotonicMs);
    this.messages = new TokenBucket(limits.messagesPerSec, limits.messageBurst, monotonicMs);
    this.conn = new JsonLineConnection<MemberMessage, LeaderMessage>(socket, memberToLeader, {
      onMessage: (m) => {
        this.lastHeardMs = monotonicMs();
        this.onMessage(m);
      },
      onBadInput: (code, detail) => {
        this.badInputCount += 1;
        // Logged within a budget shared by all connections: a flood of garbage must not fill the disk.
        if (!badInputLogBudget.tryTake()) {
          suppressedBadInput += 1;
          return;
        }
        const more = suppressedBadInput > 0 ? ` (${suppressedBadInput} more bad lines not logged)` : '';
        suppressedBadInput = 0;
        ctx.log.warn(`bad input from ${this.label}: ${code}: ${detail.length > 300 ? `${detail.slice(0, 300)}…` : detail}${more}`);
      },
      onClose: () => {
        clearTimeout(this.handshakeTimer);
        if (this.conn.dropReason) ctx.log.warn(`${this.label}: dropped: ${this.conn.dropReason}`);
        if (this.pairing?.abandon()) ctx.log.warn(`${this.address}: pairing of "${this.name}" abandoned before confirming (a wrong join code on the member's side?)`);
        this.pageSender?.cancel();
        if (this.joined) ctx.onLeft(this);
      },
    }, { maxLineBytes: limits.preJoinMaxLineBytes, maxWriteBufferBytes: limits.maxWriteBufferBytes });
    this.handshakeTimer = setTimeout(() => {
      if (!this.joined) {
        ctx.log.warn(`${this.label}: no valid hello within ${limits.handshakeTimeoutMs / 1000} s; closing`);
        this.conn.end({ type: 'error', code: 'handshake-timeout', message: 'no hello received' });
      }
    }, limits.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    this.conn.send({ type: 'server-hello', protocol: PROTOCOL_VERSION, nonce: this.nonce, authRequired: !ctx.access.open, version: ctx.version, clock: ctx.clockKind, party: ctx.access.party, pairing: !ctx.access.open });
  }

  get label(): string {
    return this.joined ? `${this.role} "${this.name}" (${this.address})` : `connection ${this.address}`;
  }

  get isOpen(): boolean {
    return this.conn.isOpen;
  }

  send(message: LeaderMessage): void {
    if (this.joined) this.conn.send(message);
  }

  /** Sends a line serialised once for many members (see Leader.broadcast); false if not joined or closed. */
  sendLine(line: string): boolean {
    const out = this.sealLine(line);
    if (out === null) return false;
    this.conn.writeSealed(out);
    return true;
  }

  /** A broadcast's line tagged for this member (see broadcast.ts sendToAll), or null if not joined or closed. */
  sealLine(line: string): string | null {
    return this.joined ? this.conn.sealLine(line) : null;
  }

  writeSealed(out: string): void {
    this.conn.writeSealed(out);
  }

  /**
   * Announces `pages` (unless the welcome just did) and sends its pages, the block holding
   * `fromTrack` first. A playlist still being sent is abandoned: its pages are stale.
   */
  sendPlaylist(pages: PlaylistPages, fromTrack: number, announce = true): void {
    if (!this.joined || this.role !== 'member') return;
    this.pageSender?.cancel();
    if (announce) this.conn.send({ type: 'playlist', playlist: pages.info });
    // Pages go through the connection (which tags each line once authenticated); the sender
    // watches the socket's queue to pace them.
    const conn = this.conn;
    const sink: PageSink = {
      get writableLength() {
        return conn.socket.writableLength;
      },
      get destroyed() {
        return !conn.isOpen;
      },
      write: (line) => {
        conn.sendLine(line);
        return true;
      },
      once: (event, listener) => conn.socket.once(event, listener),
      off: (event, listener) => conn.socket.off(event, listener),
    };
    const sender = new PageSender(pages, sink, fromTrack, () => {
      this.playlistBytes += sender.sentBytes;
      this.ctx.log.debug(`${this.label}: sent ${pages.info.count} tracks in ${sender.sentBytes} bytes`);
    });
    this.pageSender = sender;
    sender.start();
  }

  close(reason?: string): void {
    this.conn.end(reason ? { type: 'error', code: 'closing', message: reason } : undefined);
  }

  /** Closes at once (the peer is gone or misbehaving), logging why. */
  drop(reason: string): void {
    this.conn.drop(reason);
  }

  /** Refuses with a reason the peer is told, then closes. */
  refuse(code: string, message: string): void {
    this.conn.end({ type: 'error', code, message });
  }

  private limited(kind: string): void {
    this.limitedCount += 1;
    const now = monotonicMs();
    if (now - this.lastLimitLogMs < 10_000) return;
    this.lastLimitLogMs = now;
    this.ctx.log.warn(`${this.label}: too many ${kind}; dropping the excess (${this.limitedCount} so far)`);
    this.conn.send({ type: 'error', code: 'rate-limited', message: `too many ${kind}: excess dropped` });
  }

  private onMessage(m: MemberMessage): void {
    if (m.type === 'time-req') {
      if (!this.timeRequests.tryTake()) return this.limited('time requests');
      // t2 is stamped as early as the event loop lets us, t3 just before the write.
      const t2 = this.ctx.clock();
      if (!this.joined) return;
      const paceMs = this.role === 'member' ? (this.ctx.exchangePaceMs?.() ?? null) : null;
      this.conn.send(paceMs === null ? { type: 'time-res', id: m.id, t1: m.t1, t2, t3: this.ctx.clock() } : { type: 'time-res', id: m.id, t1: m.t1, t2, t3: this.ctx.clock(), paceMs });
      return;
    }
    if (!this.messages.tryTake()) return this.limited('messages');
    if (m.type === 'hello') return this.onHello(m);
    if (m.type === 'pair-start') return this.onPairStart(m);
    if (m.type === 'pair-confirm') return this.onPairConfirm(m);
    if (!this.joined) {
      this.conn.send({ type: 'error', code: 'not-joined', message: `send hello before ${m.type}` });
      return;
    }
    if (m.type === 'list-members' || m.type === 'calibrate-play' || m.type === 'set-offset') {
      if (this.role !== 'calibrator') {
        this.conn.send({ type: 'error', code: 'not-allowed', message: `${m.type} is for calibrators (join with role "calibrator")` });
        return;
      }
      const answer = this.ctx.onCalibratorRequest(this, m);
      this.conn.send({ type: 'reply', requestId: m.requestId, ...answer });
      return;
    }
    if (m.type === 'status') {
      this.lastStatus = m;
      this.lastStatusAtMs = monotonicMs();
      // It plays (or holds its place paused): the rest of the playlist's pages may follow now.
      if (m.playerState === 'playing' || m.playerState === 'paused') this.pageSender?.release();
    } else if (m.type === 'error') {
      this.ctx.log.warn(`${this.label} reports: ${m.code}: ${m.message}`);
    }
  }

  private onHello(m: Extract<MemberMessage, { type: 'hello' }>): void {
    if (this.joined) {
      this.conn.send({ type: 'error', code: 'already-joined', message: 'hello was already accepted' });
      return;
    }
    if (m.protocol !== PROTOCOL_VERSION) {
      this.ctx.log.warn(`${this.address}: refused: protocol ${m.protocol}, this leader speaks ${PROTOCOL_VERSION}`);
      this.conn.end({ type: 'error', code: 'protocol-mismatch', message: `leader speaks protocol ${PROTOCOL_VERSION} (syncplay ${this.ctx.version}); member speaks ${m.protocol} (syncplay ${m.version}): run the same syncplay version on every device` });
      return;
    }
    let proved: { key: string; kind: AuthKind } | null = null;
    if (!this.ctx.access.open) {
      proved = this.ctx.access.keysFor(m.name).find((k) => proofsMatch(memberProof(k.key, this.nonce, m.name), m.proof)) ?? null;
      if (!proved) {
        this.ctx.log.warn(`${this.address}: refused "${m.name}": ${m.proof ? 'wrong secret (not paired, or removed)' : 'no secret given'}`);
        this.conn.end({
          type: 'error',
          code: 'auth-failed',
          message: m.proof
            ? 'wrong secret: this member is not paired with this party (or was removed): pair with --join CODE (the code: `syncplay ctl pair` on the leader), or use the party\'s --secret-file'
            : 'this leader requires a secret: pair with --join CODE (the code: `syncplay ctl pair` on the leader), or pass --secret-file',
        });
        return;
      }
    }
    if (m.role === 'calibrator' && proved === null && !isLocalAddress(this.socket.remoteAddress)) {
      this.ctx.log.warn(`${this.address}: refused calibrator "${m.name}": no party secret and not this machine`);
      this.conn.end({ type: 'error', code: 'not-allowed', message: 'without a party secret a calibrator is accepted only on the leader\'s own machine: give the leader and the calibrator --secret-file' });
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.authKind = proved?.kind ?? null;
    this.authKey = proved?.key ?? null;
    this.name = m.name;
    this.role = m.role ?? 'member';
    this.deviceId = m.deviceId ?? null;
    this.resume = proved !== null ? (m.resume ?? null) : null;
    this.joined = true;
    const refused = this.ctx.onJoined(this);
    if (typeof refused === 'string') {
      this.joined = false;
      this.refuse('refused', refused);
      return;
    }
    this.conn.setMaxLineBytes(MAX_LINE_BYTES);
    if (proved !== null) this.conn.authenticate(new LineAuth(sessionKeys(proved.key, this.nonce, m.clientNonce, 'leader')));
    this.conn.send({
      type: 'welcome',
      memberId: this.id,
      ...(proved ? { leaderProof: leaderProof(proved.key, m.clientNonce) } : {}),
      playlist: this.ctx.playlist().info,
      timeline: this.ctx.timeline(),
      ...((port) => (port ? { files: { port } } : {}))(this.ctx.filesPort?.() ?? null),
    });
    this.sendPlaylist(this.ctx.playlist(), this.ctx.timeline().trackIndex, false);
  }

  private onPairStart(m: Extract<MemberMessage, { type: 'pair-start' }>): void {
    if (this.joined || this.pairing) {
      this.conn.end({ type: 'error', code: 'pair-failed', message: 'pair-start is the first message of a fresh connection' });
      return;
    }
    if (this.ctx.access.open) {
      this.conn.end({ type: 'error', code: 'pairing-unavailable', message: 'this party is open: join without --join' });
      return;
    }
    if (m.protocol !== PROTOCOL_VERSION) {
      this.conn.end({ type: 'error', code: 'protocol-mismatch', message: `leader speaks protocol ${PROTOCOL_VERSION} (syncplay ${this.ctx.version}); member speaks ${m.protocol} (syncplay ${m.version}): run the same syncplay version on every device` });
      return;
    }
    try {
      this.pairing = this.ctx.access.startPairing(m.name, m.spake);
    } catch (e) {
      this.conn.end({ type: 'error', code: 'pair-failed', message: `pairing refused: ${(e as Error).message}` });
      return;
    }
    this.name = m.name;
    this.conn.send({ type: 'pair-challenge', ...this.pairing.challenge });
  }

  private onPairConfirm(m: Extract<MemberMessage, { type: 'pair-confirm' }>): void {
    const sealed = this.pairing?.confirm(m.confirm) ?? null;
    if (!sealed) {
      this.ctx.log.warn(`${this.address}: pairing of "${this.name}" refused: wrong or expired join code`);
      this.conn.end({ type: 'error', code: 'pair-failed', message: 'wrong or expired join code: check it with `syncplay ctl pair` on the leader' });
      return;
    }
    this.conn.end({ type: 'pair-welcome', ...sealed });
  }
}
