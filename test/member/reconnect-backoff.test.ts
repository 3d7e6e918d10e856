import { describe, expect, it } from 'vitest';
import { DEFAULT_RECONNECT, ReconnectBackoff } from '../../src/member/reconnect-backoff.js';

describe('ReconnectBackoff', () => {
  it('a member that never got in backs off exponentially up to the ceiling', () => {
    const b = new ReconnectBackoff({}, () => 0.5);
    const waits = Array.from({ length: 8 }, (_, i) => b.nextDelayMs(i * 1000));
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('after losing a joined connection: a quick first retry, then ~1 s tries for the fast window, then the backoff', () => {
    const b = new ReconnectBackoff({}, () => 0.5);
    b.nextDelayMs(0);
    b.nextDelayMs(0);
    b.joined();
    b.lost(100_000);
    expect(b.nextDelayMs(100_000)).toBe(DEFAULT_RECONNECT.firstRetryMs);
    for (let t = 100_200; t < 100_000 + DEFAULT_RECONNECT.fastWindowMs; t += 1000) expect(b.nextDelayMs(t)).toBe(DEFAULT_RECONNECT.fastRetryMs);
    // The window is over: an outage, not a restart.
    expect(b.nextDelayMs(100_000 + DEFAULT_RECONNECT.fastWindowMs)).toBe(DEFAULT_RECONNECT.minMs);
    expect(b.nextDelayMs(100_000 + DEFAULT_RECONNECT.fastWindowMs + 500)).toBe(DEFAULT_RECONNECT.minMs * 2);
  });

  it('fast tries are jittered within ±50 %, so returning members spread out; the backoff within ±20 %', () => {
    const lo = new ReconnectBackoff({}, () => 0);
    const hi = new ReconnectBackoff({}, () => 0.999999);
    for (const b of [lo, hi]) b.lost(0);
    expect(lo.nextDelayMs(0)).toBeCloseTo(DEFAULT_RECONNECT.firstRetryMs * 0.5);
    expect(hi.nextDelayMs(0)).toBeCloseTo(DEFAULT_RECONNECT.firstRetryMs * 1.5, 3);
    expect(lo.nextDelayMs(10)).toBeCloseTo(500);
    expect(hi.nextDelayMs(10)).toBeCloseTo(1500, 2);
    const never = new ReconnectBackoff({}, () => 0.999999);
    const waits = Array.from({ length: 10 }, () => never.nextDelayMs(0));
    expect(Math.max(...waits)).toBeLessThanOrEqual(DEFAULT_RECONNECT.maxMs * 1.2);
    expect(waits[0]).toBeCloseTo(DEFAULT_RECONNECT.minMs * 1.2, 2);
  });

  it('joining again resets the backoff', () => {
    const b = new ReconnectBackoff({}, () => 0.5);
    for (let i = 0; i < 6; i++) b.nextDelayMs(0);
    b.joined();
    expect(b.nextDelayMs(0)).toBe(500);
  });
});
