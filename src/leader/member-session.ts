/**
 * One member's connection as the leader sees it: the handshake (protocol version, name,
 * shared-secret proof), the time exchange it answers, and the last status the member reported.
 */
import type { Socket } from 'node:net';
import { monotonicMs } from '../clock/monotonic.js';
import type { Logger } from '../log/logger.js';
import {
  JsonLineConnection,
  PROTOCOL_VERSION,
  leaderProof,
  memberProof,
  memberToLeader,
  newNonce,
  proofsMatch,
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
  /** called once the member has proved itself; returns the id it is known by */
  onJoined: (session: MemberSession) => void;
  onLeft: (session: MemberSession) => void;
  /** answers a calibrator's request (list-members, calibrate-play, set-offset) */
  onCalibratorRequest: (session: MemberSession, request: CalibratorRequest) => Omit<ReplyMessage, 'type' | 'requestId'>;
}

export type CalibratorRequest = Extract<MemberMessage, { type: 'list-members' | 'calibrate-play' | 'set-offset' }>;

const HANDSHAKE_TIMEOUT_MS = 10_000;

export class MemberSession {
  readonly address: string;
  name = '?';
  id = '';
  role: 'member' | 'calibrator' = 'member';
  joined = false;
  connectedAtMs = monotonicMs();
  lastStatus: StatusMessage | null = null;
  lastStatusAtMs = 0;
  badInputCount = 0;
  private readonly conn: JsonLineConnection<MemberMessage, LeaderMessage>;
  private readonly nonce = newNonce();
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(socket: Socket, private readonly ctx: SessionContext) {
    this.address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.conn = new JsonLineConnection<MemberMessage, LeaderMessage>(socket, memberToLeader, {
      onMessage: (m) => this.onMessage(m),
      onBadInput: (code, detail) => {
        this.badInputCount += 1;
        ctx.log.warn(`bad input from ${this.label}: ${code}: ${detail}`);
      },
      onClose: () => {
        clearTimeout(this.handshakeTimer);
        if (this.joined) ctx.onLeft(this);
      },
    });
    this.handshakeTimer = setTimeout(() => {
      if (!this.joined) {
        ctx.log.warn(`${this.label}: no valid hello within ${HANDSHAKE_TIMEOUT_MS / 1000} s; closing`);
        this.conn.end({ type: 'error', code: 'handshake-timeout', message: 'no hello received' });
      }
    }, HANDSHAKE_TIMEOUT_MS);
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

  private onMessage(m: MemberMessage): void {
    if (m.type === 'time-req') {
      // t2 is stamped as early as the event loop lets us, t3 just before the write.
      const t2 = this.ctx.clock();
      if (!this.joined) return;
      this.conn.send({ type: 'time-res', id: m.id, t1: m.t1, t2, t3: this.ctx.clock() });
      return;
    }
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
    clearTimeout(this.handshakeTimer);
    this.name = m.name;
    this.role = m.role ?? 'member';
    this.joined = true;
    this.ctx.onJoined(this);
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
