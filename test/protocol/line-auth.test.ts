import { describe, expect, it } from 'vitest';
import { LineAuth, sessionKeys } from '../../src/protocol/line-auth.js';
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
