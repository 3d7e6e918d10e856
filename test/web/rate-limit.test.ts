import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/web/rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0;
    const r = new RateLimiter(3, 2, 10, () => now);
    expect([r.take('a'), r.take('a'), r.take('a'), r.take('a')]).toEqual([true, true, true, false]);
    expect(r.take('b')).toBe(true); // per address
    now = 499;
    expect(r.take('a')).toBe(false);
    now = 501;
    expect(r.take('a')).toBe(true);
    now = 60_000;
    expect([r.take('a'), r.take('a'), r.take('a'), r.take('a')]).toEqual([true, true, true, false]);
  });

  it('keeps at most maxClients buckets', () => {
    const r = new RateLimiter(1, 1, 100, () => 0);
    for (let i = 0; i < 10_000; i++) r.take(`10.0.${i >> 8}.${i & 255}`);
    expect(r.size).toBe(100);
  });
});
