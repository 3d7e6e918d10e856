import { describe, expect, it } from 'vitest';
import { EXCHANGE_PACE, exchangePaceMs } from '../../src/leader/exchange-pace.js';

describe('exchangePaceMs', () => {
  it('asks for no pace while the members\' own rate (12 chains a second at most, on noisy links) stays within the leader\'s budget', () => {
    for (const peers of [0, 1, 3, 30, 41]) expect(exchangePaceMs(peers)).toBeNull();
  });

  it('above it, spaces each member\'s chains so that all together stay near the budget, in steps, up to 2 s', () => {
    expect(exchangePaceMs(42)).toBe(250);
    expect(exchangePaceMs(63)).toBe(250);
    expect(exchangePaceMs(250)).toBe(500);
    expect(exchangePaceMs(251)).toBe(750);
    expect(exchangePaceMs(375)).toBe(750);
    expect(exchangePaceMs(376)).toBe(1000);
    expect(exchangePaceMs(1000)).toBe(2000);
    expect(exchangePaceMs(5000)).toBe(EXCHANGE_PACE.maxMs);
    for (let peers = 42; peers <= 1000; peers++) {
      const pace = exchangePaceMs(peers)!;
      expect(pace % EXCHANGE_PACE.stepMs).toBe(0);
      expect((peers * 1000) / pace).toBeLessThanOrEqual(EXCHANGE_PACE.chainsPerSec);
    }
  });

  it('takes other tunables (a leader can be told to pace a small party)', () => {
    expect(exchangePaceMs(3, { ...EXCHANGE_PACE, chainsPerSec: 2 })).toBe(1500);
  });
});
