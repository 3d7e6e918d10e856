import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/leader/limits.js';
import { TIME_EXCHANGE, chainSpacingMs, isNoisyLink, noisyExchangeSpacingMs } from '../../src/member/time-exchange.js';

describe('time exchange schedule', () => {
  it('a link turns noisy above 2 ms of round-trip spread and quiet again only below 1 ms', () => {
    expect(isNoisyLink(0.1, false)).toBe(false);
    expect(isNoisyLink(2, false)).toBe(false);
    expect(isNoisyLink(2.5, false)).toBe(true);
    // The faster rate narrows the spread a little: 1.5 ms keeps it noisy, 0.8 ms ends it.
    expect(isNoisyLink(1.5, true)).toBe(true);
    expect(isNoisyLink(0.8, true)).toBe(false);
  });

  it("chains at the member's own rate unless its leader asks for a slower pace, never slower than 2 s", () => {
    expect(chainSpacingMs(0, TIME_EXCHANGE.steadyHz)).toBe(500);
    expect(chainSpacingMs(0, TIME_EXCHANGE.youngHz)).toBe(125);
    expect(chainSpacingMs(0, TIME_EXCHANGE.noisyHz)).toBeCloseTo(1000 / 12, 9);
    expect(chainSpacingMs(250, TIME_EXCHANGE.noisyHz)).toBe(250);
    expect(chainSpacingMs(250, TIME_EXCHANGE.steadyHz)).toBe(500);
    expect(chainSpacingMs(60_000, TIME_EXCHANGE.noisyHz)).toBe(TIME_EXCHANGE.maxLeaderPaceMs);
  });

  it('on a noisy link single exchanges share out the chain spacing, but no closer than the round-trip spread and no further than a chain spacing', () => {
    const chain = chainSpacingMs(0, TIME_EXCHANGE.noisyHz);
    // A Wi-Fi-like path (one-way delays over ~20 ms): one every ~20.8 ms, 4 per chain spacing.
    expect(noisyExchangeSpacingMs(chain, 3)).toBeCloseTo(chain / 4, 9);
    // Wider spread: spaced by it, so a request rarely queues behind the one before.
    expect(noisyExchangeSpacingMs(chain, 40)).toBe(40);
    // Never fewer than one exchange per chain spacing.
    expect(noisyExchangeSpacingMs(chain, 400)).toBeCloseTo(chain, 9);
    // The leader's pace spaces them out alike.
    expect(noisyExchangeSpacingMs(chainSpacingMs(2000, TIME_EXCHANGE.noisyHz), 3)).toBe(500);
  });

  it("the fastest honest schedule stays inside the leader's time-request limit", () => {
    const fastestNoisy = 1000 / noisyExchangeSpacingMs(chainSpacingMs(0, TIME_EXCHANGE.noisyHz), 0);
    const fastestChains = TIME_EXCHANGE.chainLength * Math.max(TIME_EXCHANGE.youngHz, TIME_EXCHANGE.steadyHz);
    expect(Math.max(fastestNoisy, fastestChains)).toBeLessThanOrEqual(DEFAULT_LIMITS.timeRequestsPerSec * 0.8);
  });
});
