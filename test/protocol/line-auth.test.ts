import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { LineAuth, lineTag, sessionKeys } from '../../src/protocol/line-auth.js';
import { TokenBucket } from '../../src/leader/token-bucket.js';

const pair = (secret = 'party-secret', ln = 'leader-nonce', mn = 'member-nonce') => ({
  leader: new LineAuth(sessionKeys(secret, ln, mn, 'leader')),
  member: new LineAuth(sessionKeys(secret, ln, mn, 'member')),
});

describe('per-line authentication', () => {
  it('lines sealed by one end open at the other, in both directions, in order', () => {
    const { leader, member } = pair();
    for (let i = 0; i < 5; i++) {
      expect(member.open(leader.seal(`{"type":"heartbeat","n":${i}}`))).toBe(`{"type":"heartbeat","n":${i}}`);
      expect(leader.open(member.seal(`{"type":"status","n":${i}}`))).toBe(`{"type":"status","n":${i}}`);
    }
  });

  it('refuses an injected, altered, replayed, reordered or reflected line', () => {
    const { leader, member } = pair();
    expect(member.open('{"type":"settings"}')).toBeNull();
    const a = leader.seal('{"n":1}');
    const b = leader.seal('{"n":2}');
    expect(member.open(a.replace('"n":1', '"n":9'))).toBeNull();
    expect(member.open(b)).toBeNull(); // b before a: out of order
    expect(member.open(a)).toBe('{"n":1}');
    expect(member.open(a)).toBeNull(); // replay
    expect(member.open(b)).toBe('{"n":2}');
    // A member's own line sent back to it does not verify (direction keys differ).
    const own = member.seal('{"n":3}');
    expect(member.open(own)).toBeNull();
  });

  it('keys differ per connection (nonces) and per secret', () => {
    const one = pair('s', 'l1', 'm1');
    const other = pair('s', 'l2', 'm1');
    const wrong = pair('t', 'l1', 'm1');
    const line = one.leader.seal('{"x":1}');
    expect(other.member.open(line)).toBeNull();
    expect(wrong.member.open(line)).toBeNull();
    expect(one.member.open(line)).toBe('{"x":1}');
  });
});

describe('token bucket, refusing', () => {
  it('allows the burst, then the sustained rate', () => {
    let now = 0;
    const b = new TokenBucket(10, 5, () => now);
    let taken = 0;
    for (let i = 0; i < 20; i++) if (b.tryTake()) taken++;
    expect(taken).toBe(5);
    now += 1000;
    taken = 0;
    for (let i = 0; i < 20; i++) if (b.tryTake()) taken++;
    expect(taken).toBe(5); // refilled 10, capped at the burst
    now += 300;
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(false);
  });
});

describe('line tags on the wire', () => {
  // The tag is HMAC-SHA256(direction key, seq as 8 big-endian bytes ‖ line), first 16 bytes in hex.
  const reference = (key: Buffer, seq: bigint, payload: string): string => {
    const n = Buffer.alloc(8);
    n.writeBigUInt64BE(seq);
    return createHmac('sha256', key).update(n).update(payload, 'utf8').digest('hex').slice(0, 32);
  };

  it('encodes the sequence number as 8 big-endian bytes, also past 2^32 lines', () => {
    const key = Buffer.alloc(32, 7);
    for (const seq of [0, 1, 255, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0005, 0x1234_5678_9abc, Number.MAX_SAFE_INTEGER]) {
      expect(lineTag(key, seq, '{"type":"heartbeat"}')).toBe(reference(key, BigInt(seq), '{"type":"heartbeat"}'));
    }
  });

  it('the lines sealed are the reference tag, a space and the line, numbered from 0', () => {
    const keys = sessionKeys('party-secret', 'l', 'm', 'leader');
    const auth = new LineAuth(keys);
    for (let i = 0; i < 3; i++) expect(auth.seal(`{"n":${i}}`)).toBe(`${reference(keys.send, BigInt(i), `{"n":${i}}`)} {"n":${i}}`);
  });

  it('refuses a tag that differs in its last digit, or one in capitals', () => {
    const { leader, member } = pair();
    const line = leader.seal('{"n":1}');
    const last = line[31] === '0' ? '1' : '0';
    expect(member.open(line.slice(0, 31) + last + line.slice(32))).toBeNull();
    expect(member.open(line.slice(0, 32).toUpperCase() + line.slice(32))).toBe(/[a-f]/.test(line.slice(0, 32)) ? null : '{"n":1}');
    expect(member.open(line)).toBe('{"n":1}');
  });
});
