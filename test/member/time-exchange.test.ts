import { describe, expect, it } from 'vitest';
import { TIME_EXCHANGE, chainSpacingMs, isNoisyLink } from '../../src/member/time-exchange.js';

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
    expect(chainSpacingMs(0, TIME_EXCHANGE.noisyHz)).toBe(125);
    expect(chainSpacingMs(250, TIME_EXCHANGE.noisyHz)).toBe(250);
    expect(chainSpacingMs(250, TIME_EXCHANGE.steadyHz)).toBe(500);
    expect(chainSpacingMs(60_000, TIME_EXCHANGE.noisyHz)).toBe(TIME_EXCHANGE.maxLeaderPaceMs);
  });
});
