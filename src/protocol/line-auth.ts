/**
 * Per-message authentication after the handshake: every line in both directions carries an
 * HMAC-SHA256 tag (truncated to 128 bits) over an implicit sequence number and the line.
 *
 *   session key  K   = HMAC(secret, "session|" + leader nonce + "|" + member nonce)
 *   direction keys   = HMAC(K, "leader>member"), HMAC(K, "member>leader")
 *   line on the wire = hex(HMAC(direction key, seq as 8 bytes ‖ json)[0..16]) + " " + json
 *
 * Why this and not TLS with a pre-shared key: the secret never crosses the wire and both nonces
 * make every connection's keys fresh, so nothing recorded from one connection verifies on another;
 * the sequence number (counted by both ends, never sent) makes a replayed, reordered or dropped
 * line fail the tag of the line after it; the direction keys stop a line being reflected back.
 * The framing stays one JSON object per line (readable with `nc`), there are no certificates to
 * manage, and it costs a few microseconds per line. It does not hide the contents (play state,
 * track titles): they are not secret on a home LAN; what matters is that nobody without the
 * secret can change what a speaker does.
 */
import { createHmac } from 'node:crypto';

const TAG_HEX = 32;

export interface LineKeys {
  send: Buffer;
  receive: Buffer;
}

/** The two direction keys of one connection, as seen from `side`. */
export function sessionKeys(secret: string, leaderNonce: string, memberNonce: string, side: 'leader' | 'member'): LineKeys {
  const k = createHmac('sha256', secret).update(`session|${leaderNonce}|${memberNonce}`).digest();
  const toMember = createHmac('sha256', k).update('leader>member').digest();
  const toLeader = createHmac('sha256', k).update('member>leader').digest();
  return side === 'leader' ? { send: toMember, receive: toLeader } : { send: toLeader, receive: toMember };
}

/**
 * The sequence number as 8 big-endian bytes, written into one scratch buffer: lines are sealed and
 * opened synchronously, so it is never shared by two lines at once. (A fresh Buffer and a BigInt
 * per line were half of the allocations of a leader at rest: garbage that fills the heap.)
 * A plain number counts exactly to 2^53 lines: at 100 lines a second, millions of years.
 */
const seqBytes = Buffer.alloc(8);

/** The tag of line number `seq` (from 0) carrying `payload`: 32 hex digits. */
export function lineTag(key: Buffer, seq: number, payload: string): string {
  seqBytes.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 0);
  seqBytes.writeUInt32BE(seq >>> 0, 4);
  return createHmac('sha256', key).update(seqBytes).update(payload, 'utf8').digest('hex').slice(0, TAG_HEX);
}

/** Whether the tag at the start of `line` equals `expected`, in time independent of where they differ. */
function tagMatches(line: string, expected: string): boolean {
  let diff = 0;
  for (let i = 0; i < TAG_HEX; i++) diff |= line.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

export class LineAuth {
  private sendSeq = 0;
  private receiveSeq = 0;

  constructor(private readonly keys: LineKeys) {}

  /** A JSON line (no newline) with its tag in front. */
  seal(payload: string): string {
    const t = lineTag(this.keys.send, this.sendSeq, payload);
    this.sendSeq += 1;
    return `${t} ${payload}`;
  }

  /** The JSON of a sealed line, or null if its tag is missing or wrong (the sequence does not advance). */
  open(line: string): string | null {
    if (line.length < TAG_HEX + 1 || line.charCodeAt(TAG_HEX) !== 0x20) return null;
    const payload = line.slice(TAG_HEX + 1);
    if (!tagMatches(line, lineTag(this.keys.receive, this.receiveSeq, payload))) return null;
    this.receiveSeq += 1;
    return payload;
  }
}
