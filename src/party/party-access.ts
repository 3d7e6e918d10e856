/**
 * Who may join the leader's party: holders of the party secret (--secret-file, or the leader's
 * own machine), members paired with the join code (each with a key of its own, revocable), or
 * anyone when the party is open (--open). The leader's side of a pairing lives here too.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { PartyInfo } from '../protocol/messages.js';
import { JoinCodes, type JoinCodeView } from './join-code.js';
import { PairedMembers, pairedMembersPath } from './paired-members.js';
import { Spake2, confirmationsMatch, passwordScalar } from './spake2.js';

export interface PairingStatus {
  code: string;
  expiresInSec: number;
  paired: { name: string; pairedAt: string }[];
}

/** How a member proved itself: with the key from its pairing, or with the party secret. */
export type AuthKind = 'paired' | 'secret';

export class PartyAccess {
  readonly codes: JoinCodes | null;
  private readonly paired: PairedMembers;

  /**
   * @param secret the party secret, or null for an open party (no pairing, no proofs)
   * @param stateDir where paired members are remembered (null: in memory only)
   */
  constructor(
    readonly party: PartyInfo,
    readonly secret: string | null,
    stateDir: string | null,
    private readonly log: Logger,
  ) {
    this.paired = new PairedMembers(stateDir && secret !== null ? pairedMembersPath(stateDir) : null, log);
    this.codes = secret !== null ? new JoinCodes((reason, view) => log.info(`join code ${view.code} (${reason}; valid ${Math.round(view.expiresInSec / 60)} min): on a new member run  syncplay member --join ${view.code} --music-dir DIR`)) : null;
  }

  get open(): boolean {
    return this.secret === null;
  }

  /** The keys a hello from `name` may be proved with, the member's own first. */
  keysFor(name: string): { key: string; kind: AuthKind }[] {
    if (this.secret === null) return [];
    const own = this.paired.keyFor(name);
    return own ? [{ key: own, kind: 'paired' }, { key: this.secret, kind: 'secret' }] : [{ key: this.secret, kind: 'secret' }];
  }

  status(): PairingStatus | null {
    if (!this.codes) return null;
    // Field by field, not `{ ...current(), paired }`: on Node 20 a spread followed by a new key
    // makes a hidden class per object (src/member/member-status.ts), and the leader's status (with
    // this in it) is built ten times a second while a web remote is open.
    const code = this.codes.current();
    return { code: code.code, expiresInSec: code.expiresInSec, paired: this.paired.names() };
  }

  newCode(): JoinCodeView | null {
    return this.codes?.rotate('asked for') ?? null;
  }

  /** Removes a member's pairing; true when it had one. */
  forget(name: string): boolean {
    const had = this.paired.forget(name);
    if (had) this.log.info(`member "${name}" is no longer paired`);
    return had;
  }

  /** Starts the leader's side of a pairing from the member's SPAKE2 message. */
  startPairing(memberName: string, spakeHex: string): LeaderPairing {
    if (!this.codes || !this.party.id) throw new Error('this party is open: no pairing needed');
    return new LeaderPairing(this, this.codes, this.party.id, memberName, Buffer.from(spakeHex, 'hex'));
  }

  /** Called by a pairing that succeeded: issues and remembers the member's own key. */
  issueKey(memberName: string): string {
    const key = this.paired.add(memberName);
    this.log.info(`member "${memberName}" paired with the join code`);
    return key;
  }
}

/** One pairing run on the leader: challenge out, confirmation in, sealed key out. */
export class LeaderPairing {
  readonly challenge: { spake: string; confirm: string };
  private readonly digits: string;
  private readonly keys: ReturnType<Spake2['finish']>;
  private settled = false;

  constructor(
    private readonly access: PartyAccess,
    private readonly codes: JoinCodes,
    private readonly partyId: string,
    private readonly memberName: string,
    memberMessage: Buffer,
  ) {
    this.digits = codes.digitsForPairing();
    const spake = new Spake2('B', passwordScalar(partyId, this.digits), memberName, partyId);
    this.keys = spake.finish(memberMessage); // throws on an invalid element
    this.challenge = { spake: spake.message.toString('hex'), confirm: this.keys.myConfirm.toString('hex') };
  }

  /** The member's confirmation: the sealed welcome when it proves the code, else null. */
  confirm(confirmHex: string): { iv: string; sealed: string; tag: string } | null {
    if (this.settled) return null;
    this.settled = true;
    if (!confirmationsMatch(this.keys.theirConfirm, confirmHex)) {
      this.codes.failed(this.digits);
      return null;
    }
    const key = this.access.issueKey(this.memberName);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.ke, iv);
    cipher.setAAD(Buffer.from(pairWelcomeAad(this.partyId, this.memberName)));
    const sealed = Buffer.concat([cipher.update(JSON.stringify({ key, party: this.access.party }), 'utf8'), cipher.final()]);
    return { iv: iv.toString('hex'), sealed: sealed.toString('hex'), tag: cipher.getAuthTag().toString('hex') };
  }

  /** The connection went away before a confirmation: counts as a failed guess. True if it was pending. */
  abandon(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.codes.failed(this.digits);
    return true;
  }
}

export function pairWelcomeAad(partyId: string, memberName: string): string {
  return `syncplay pair-welcome|${partyId}|${memberName}`;
}
