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
import { createHmac, timingSafeEqual } from 'node:crypto';

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

function tag(key: Buffer, seq: bigint, payload: string): string {
  const n = Buffer.alloc(8);
  n.writeBigUInt64BE(seq);
  return createHmac('sha256', key).update(n).update(payload, 'utf8').digest('hex').slice(0, TAG_HEX);
}

export class LineAuth {
  private sendSeq = 0n;
  private receiveSeq = 0n;

  constructor(private readonly keys: LineKeys) {}

  /** A JSON line (no newline) with its tag in front. */
  seal(payload: string): string {
    const t = tag(this.keys.send, this.sendSeq, payload);
    this.sendSeq += 1n;
    return `${t} ${payload}`;
  }

  /** The JSON of a sealed line, or null if its tag is missing or wrong (the sequence does not advance). */
  open(line: string): string | null {
    if (line.length < TAG_HEX + 1 || line[TAG_HEX] !== ' ') return null;
    const given = Buffer.from(line.slice(0, TAG_HEX), 'utf8');
    const payload = line.slice(TAG_HEX + 1);
    const expected = Buffer.from(tag(this.keys.receive, this.receiveSeq, payload), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    this.receiveSeq += 1n;
    return payload;
  }
}
