import { describe, expect, it } from 'vitest';
import { ReadingGate } from '../../../src/member/sync/reading-gate.js';
import { DEFAULT_SYNC_TUNABLES } from '../../../src/member/sync/tunables.js';

/** The rule as stated: limit = factor × median of the last `gateWindow` round trips (upper median), within [min, max]. */
function referenceLimit(history: number[]): number {
  const t = DEFAULT_SYNC_TUNABLES;
  const recent = history.slice(-t.gateWindow);
  const sorted = [...recent].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return Math.min(t.gateMaxMs, Math.max(t.gateMinMs, t.gateMedianFactor * median));
}

describe('ReadingGate', () => {
  it('accepts a reading when its round trip is within the multiple of the recent median, clamped', () => {
    const gate = new ReadingGate(DEFAULT_SYNC_TUNABLES);
    const history: number[] = [];
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 500; i++) {
      // Quiet stretches, loaded stretches and spikes, so the median moves across the clamp.
      const base = i < 150 ? 0.3 : i < 300 ? 1.2 : 0.6;
      const rtt = rnd() < 0.1 ? base * (3 + 10 * rnd()) : base * (0.5 + rnd());
      history.push(rtt);
      expect(gate.accepts(rtt), `reading ${i} (${rtt.toFixed(3)} ms)`).toBe(rtt <= referenceLimit(history));
    }
  });

  it('a fixed limit replaces the rule', () => {
    const gate = new ReadingGate(DEFAULT_SYNC_TUNABLES, 2);
    expect(gate.accepts(1.9)).toBe(true);
    expect(gate.accepts(2.1)).toBe(false);
  });

  it('a slow round trip is refused on a quiet path (over the 1 ms floor)', () => {
    const gate = new ReadingGate(DEFAULT_SYNC_TUNABLES);
    for (let i = 0; i < 20; i++) gate.accepts(0.3);
    expect(gate.accepts(1.5)).toBe(false);
    expect(gate.accepts(0.9)).toBe(true);
  });
});
