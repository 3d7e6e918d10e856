/**
 * One member's connection as the leader sees it: the handshake (protocol version, name,
 * shared-secret proof), the time exchange it answers, and the last status the member reported.
 */
import type { Socket } from 'node:net';
import { monotonicMs } from '../clock/monotonic.js';
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
  type Track,
} from '../protocol/index.js';

export interface SessionContext {
  secret: string | null;
  version: string;
  /** the shared clock: time exchanges are answered in it */
  clock: () => number;
  clockKind: 'monotonic' | 'utc';
  tracks: () => readonly Track[];
  timeline: () => Timeline;
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

export class MemberSession {
  readonly address: string;
  name = '?';
  id = '';
  role: 'member' | 'calibrator' = 'member';
  joined = false;
  connectedAtMs = monotonicMs();
  lastStatus: StatusMessage | null = null;
  lastStatusAtMs = 0;
  /** when the last valid message arrived (monotonic ms): the leader closes peers silent too long */
  lastHeardMs = monotonicMs();
  badInputCount = 0;
  /** messages dropped by the rate limits */
  limitedCount = 0;
  private lastLimitLogMs = -Infinity;
  private readonly limits: LeaderLimits;
  private readonly timeRequests: TokenBucket;
  private readonly messages: TokenBucket;
  private readonly conn: JsonLineConnection<MemberMessage, LeaderMessage>;
  private readonly nonce = newNonce();
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(private readonly socket: Socket, private readonly ctx: SessionContext) {
    this.address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
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
        ctx.log.warn(`bad input from ${this.label}: ${code}: ${detail}`);
      },
      onClose: () => {
        clearTimeout(this.handshakeTimer);
        if (this.conn.dropReason) ctx.log.warn(`${this.label}: dropped: ${this.conn.dropReason}`);
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
    this.conn.send({ type: 'server-hello', protocol: PROTOCOL_VERSION, nonce: this.nonce, authRequired: ctx.secret !== null, version: ctx.version, clock: ctx.clockKind });
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

  /** Sends a line serialised once for many members (see Leader.broadcast). */
  sendLine(line: string): void {
    if (this.joined) this.conn.sendLine(line);
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
      this.conn.send({ type: 'time-res', id: m.id, t1: m.t1, t2, t3: this.ctx.clock() });
      return;
    }
    if (!this.messages.tryTake()) return this.limited('messages');
    if (m.type === 'hello') return this.onHello(m);
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
    const secret = this.ctx.secret;
    if (secret !== null && !proofsMatch(memberProof(secret, this.nonce, m.name), m.proof)) {
      this.ctx.log.warn(`${this.address}: refused "${m.name}": ${m.proof ? 'wrong secret' : 'no secret given'}`);
      this.conn.end({ type: 'error', code: 'auth-failed', message: m.proof ? 'wrong secret: use the same --secret-file as the leader' : 'this leader requires a secret: pass --secret-file' });
      return;
    }
    if (m.role === 'calibrator' && secret === null && !isLocalAddress(this.socket.remoteAddress)) {
      this.ctx.log.warn(`${this.address}: refused calibrator "${m.name}": no party secret and not this machine`);
      this.conn.end({ type: 'error', code: 'not-allowed', message: 'without a party secret a calibrator is accepted only on the leader\'s own machine: give the leader and the calibrator --secret-file' });
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.name = m.name;
    this.role = m.role ?? 'member';
    this.joined = true;
    const refused = this.ctx.onJoined(this);
    if (typeof refused === 'string') {
      this.joined = false;
      this.refuse('refused', refused);
      return;
    }
    this.conn.setMaxLineBytes(MAX_LINE_BYTES);
    if (secret !== null) this.conn.authenticate(new LineAuth(sessionKeys(secret, this.nonce, m.clientNonce, 'leader')));
    this.conn.send({
      type: 'welcome',
      memberId: this.id,
      ...(secret !== null ? { leaderProof: leaderProof(secret, m.clientNonce) } : {}),
      playlist: [...this.ctx.tracks()],
      timeline: this.ctx.timeline(),
      ...((port) => (port ? { files: { port } } : {}))(this.ctx.filesPort?.() ?? null),
    });
  }
}
