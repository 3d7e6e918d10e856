/**
 * OutputBlocks: learning a block grid from starts (unpause sent at u, first sample heard at the
 * first grid edge at or after u + d) and planning starts on it.
 */
import { describe, expect, it } from 'vitest';
import { OutputBlocks } from '../../../src/member/sync/output-blocks.js';
import { DEFAULT_SYNC_TUNABLES } from '../../../src/member/sync/tunables.js';

const BLOCK = DEFAULT_SYNC_TUNABLES.outputBlockMs;

/** A grid output: edges at phase + k × BLOCK; an unpause sent at u is heard from the first edge ≥ u + d. */
function onsetOf(u: number, d: number, phase: number): number {
  return phase + Math.ceil((u + d - phase) / BLOCK) * BLOCK;
}

describe('OutputBlocks', () => {
  it('plans nothing until enough starts agree on a grid', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    b.observe(1000, onsetOf(1000, 12, 3.3));
    b.observe(2004, onsetOf(2004, 12, 3.3));
    expect(b.plan(5000, 10)).toBeNull();
    b.observe(3007, onsetOf(3007, 12, 3.3));
    expect(b.plan(5000, 10)).toBeNull();
    b.observe(4001.5, onsetOf(4001.5, 12, 3.3));
    expect(b.phaseMs()).toBeCloseTo(3.3, 6);
    expect(b.plan(5000, 10)).not.toBeNull();
  });

  it('plans every start so that it lands on the edge it names, whatever the instant, with the delay 1 ms faster to 4 ms slower than usual', () => {
    const phase = 7.25;
    const d = 11.6;
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    // Learning starts at scattered phases, as a probe's are.
    for (const u of [1000.4, 2003.1, 3005.9, 4008.2, 5001.7, 6009.3]) b.observe(u, onsetOf(u, d, phase));
    let seed = 1;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 200; i++) {
      const instant = 10_000 + i * 37.13;
      const plan = b.plan(instant, 30)!;
      // The onset is an edge within half a block of the instant, and the position is the one the
      // timeline has there.
      expect(Math.abs(((plan.onsetMs - phase) % BLOCK + BLOCK) % BLOCK) < 1e-6 || Math.abs(((plan.onsetMs - phase) % BLOCK + BLOCK) % BLOCK - BLOCK) < 1e-6).toBe(true);
      expect(Math.abs(plan.onsetMs - instant)).toBeLessThanOrEqual(BLOCK / 2 + 1e-9);
      expect(plan.positionSec - 30).toBeCloseTo((plan.onsetMs - instant) / 1000, 9);
      // Sent at the planned instant with the delay off by −1…+4 ms, it is heard at the planned edge.
      expect(onsetOf(plan.unpauseMs, d - 1 + 5 * rand(), phase)).toBeCloseTo(plan.onsetMs, 6);
    }
  });

  it('never plans a position-0 start before its instant (that would need a negative position)', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const u of [1000, 2002.5, 3005, 4007.5, 5004]) b.observe(u, onsetOf(u, 12, 0));
    const plan = b.plan(5009, 0)!; // nearest edge 5010 is after; 5001 → nearest 5000 is before
    expect(plan.positionSec).toBeGreaterThanOrEqual(0);
    const early = b.plan(5001, 0)!;
    expect(early.onsetMs).toBeCloseTo(5010, 6);
    expect(early.positionSec).toBeCloseTo(0.009, 9);
  });

  it('finds no grid on an output without one (onsets anywhere), and a new grid after the output restarts', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const [u, onset] of [[1000, 1012.0], [2000, 2015.1], [3000, 3018.3], [4000, 4013.7], [5000, 5016.6]] as const) b.observe(u, onset);
    expect(b.plan(9000, 10)).toBeNull();

    const g = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const u of [1000, 2003, 3006, 4009, 5001]) g.observe(u, onsetOf(u, 12, 2));
    expect(g.phaseMs()).toBeCloseTo(2, 6);
    // One start off the grid is noise: the grid stays.
    g.observe(6000, onsetOf(6000, 12, 7));
    expect(g.phaseMs()).toBeCloseTo(2, 6);
    // The output restarted on another grid: two agreeing starts replace the old one; with two more it plans on it.
    g.observe(7004, onsetOf(7004, 12, 7));
    expect(g.phaseMs()).toBeNull();
    g.observe(8008, onsetOf(8008, 12, 7));
    expect(g.phaseMs()).toBeNull();
    g.observe(9002, onsetOf(9002, 12, 7));
    expect(g.phaseMs()).toBeCloseTo(7, 6);
  });

  it('finds no grid when the onsets agree only because the unpauses did (the delay never varied)', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const u of [1000, 2000.2, 3000.1, 4000.3, 5000]) b.observe(u, u + 12.4);
    expect(b.phaseMs()).toBeNull();
    // …and more starts would not show one: the delays are constant.
    expect(b.undecided()).toBe(false);
  });

  it('is undecided while quantized delays have not agreed on a phase yet, and decided once they do', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    expect(b.undecided()).toBe(false);
    // Alternate starts timed 3 ms off their edge: no four agree.
    const us = [1000, 2003.3, 3006.6, 4001.1, 5004.4, 6007.7];
    us.forEach((u, i) => b.observe(u, onsetOf(u, 12, 5) + (i % 2 ? 0 : 3)));
    expect(b.phaseMs()).toBeNull();
    expect(b.undecided()).toBe(true);
    for (const u of [7002.2, 8005.5, 9008.8, 10_000.9]) b.observe(u, onsetOf(u, 12, 5));
    expect(b.phaseMs()).toBeCloseTo(5, 6);
    expect(b.undecided()).toBe(false);
  });
});

describe('OutputBlocks, starts slower than the probe\'s', () => {
  it('a planned start that lands a block late sends the next ones earlier, until they are caught by their edge', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    // The probe's starts: delay 12 ms.
    for (const u of [1000.4, 2003.1, 3005.9, 4008.2, 5001.7]) b.observe(u, onsetOf(u, 12, 4));
    // Real starts are 9 ms slower (a seek while loaded, say): more than the late side of the block leaves.
    let late = 0;
    for (let i = 0; i < 6; i++) {
      const plan = b.plan(10_000 + i * 1000.3, 20)!;
      const onset = onsetOf(plan.unpauseMs, 21, 4);
      const errorMs = plan.onsetMs - onset; // positive: ahead
      if (errorMs < -5) late++;
      b.plannedOutcome(errorMs);
      b.observe(plan.unpauseMs, onset, true);
    }
    expect(late).toBeLessThanOrEqual(2);
    const last = b.plan(20_000.7, 20)!;
    expect(onsetOf(last.unpauseMs, 21, 4)).toBeCloseTo(last.onsetMs, 6);
  });
});

describe('OutputBlocks, one slow start among usual ones', () => {
  /** a grid at phase 4 learned from probe starts at scattered phases with a steady 3 ms delay */
  function learned(): OutputBlocks {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const u of [1000.4, 2003.1, 3005.9, 4008.2, 5001.7, 6006.6]) b.observe(u, onsetOf(u, 3, 4));
    return b;
  }

  it('a single start a block late (a busy host) moves nothing: the next is planned as before and lands on its edge', () => {
    const b = learned();
    const before = b.plan(10_000, 20)!;
    // This start took 14 ms instead of 3: a block late.
    const slow = onsetOf(before.unpauseMs, 14, 4);
    b.plannedOutcome(before.onsetMs - slow);
    b.observe(before.unpauseMs, slow, true);
    const after = b.plan(20_000, 20)!;
    expect(after.onsetMs - after.unpauseMs).toBeCloseTo(before.onsetMs - before.unpauseMs, 9);
    expect(onsetOf(after.unpauseMs, 3, 4)).toBeCloseTo(after.onsetMs, 6);
  });

  it('planned starts do not feed the learned delay: a hundred of them leave the plan where it was', () => {
    const b = learned();
    const first = b.plan(10_000, 20)!;
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 100; i++) {
      const plan = b.plan(10_000 + i * 977.7, 20)!;
      const onset = onsetOf(plan.unpauseMs, 3 + 4 * rand(), 4);
      expect(onset).toBeCloseTo(plan.onsetMs, 6);
      b.plannedOutcome(plan.onsetMs - onset);
      b.observe(plan.unpauseMs, onset, true);
    }
    const last = b.plan(10_000, 20)!;
    expect(last.unpauseMs).toBeCloseTo(first.unpauseMs, 9);
    expect(b.phaseMs()).toBeCloseTo(4, 6);
  });
});

describe('OutputBlocks, starts off the grid', () => {
  it('leaves out of the delays a start timed off the grid (a misstamped reading)', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const u of [1000.4, 2003.1, 3005.9, 4008.2, 5001.7]) b.observe(u, onsetOf(u, 3, 5));
    const before = b.plan(9000, 20)!;
    // Heard 3 ms after an edge, as a reading misstamped by 3 ms would say: one such start is noise.
    b.observe(6000, onsetOf(6000, 3, 5) + 3);
    expect(b.plan(9000, 20)!.unpauseMs).toBeCloseTo(before.unpauseMs, 9);
  });
});

describe('OutputBlocks, a grid found by planned starts only', () => {
  it('plans nothing (no delay to plan from) until an unplanned start lands on the new grid', () => {
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    for (const u of [1000.4, 2003.1, 3005.9, 4008.2, 5001.7]) b.observe(u, onsetOf(u, 3, 2));
    // The output restarted on another grid, and only planned starts (not random phases) show it.
    for (const u of [6000.4, 7003.1, 8005.9, 9008.2]) b.observe(u, onsetOf(u, 3, 7), true);
    expect(b.phaseMs()).toBeCloseTo(7, 6);
    expect(b.plan(20_000, 20)).toBeNull();
    // A start at the learned lead (a random phase) lands on the new grid: planned again…
    b.observe(21_004.6, onsetOf(21_004.6, 3, 7));
    expect(Number.isFinite(b.plan(30_000, 20)!.unpauseMs)).toBe(true);
    // …and on its edge once a few such starts have narrowed the delay.
    for (const u of [22_001.1, 23_007.3, 24_003.9]) b.observe(u, onsetOf(u, 3, 7));
    const plan = b.plan(30_000, 20)!;
    expect(onsetOf(plan.unpauseMs, 3, 7)).toBeCloseTo(plan.onsetMs, 6);
  });
});

describe('OutputBlocks, few starts', () => {
  it('four starts whose delays happen to lie close together plan starts with their delay, or 2.5 ms more, onto their edge', () => {
    // Delays 4.1, 4.8, 5.4 and 7.2 ms allow any d in (−2.8, 4.1]: a plan from the lowest would land
    // a start with d = 6.5 a block late.
    const b = new OutputBlocks(DEFAULT_SYNC_TUNABLES);
    const phase = 0;
    for (const [u, onset] of [[995.9, 1000], [1995.2, 2000], [2994.6, 3000], [3992.8, 4000]] as const) b.observe(u, onset);
    expect(b.phaseMs()).not.toBeNull();
    for (let i = 0; i < 20; i++) {
      const plan = b.plan(10_000 + i * 33.3, 20)!;
      expect(onsetOf(plan.unpauseMs, 4, phase)).toBeCloseTo(plan.onsetMs, 6);
      expect(onsetOf(plan.unpauseMs, 6.5, phase)).toBeCloseTo(plan.onsetMs, 6);
    }
  });
});
