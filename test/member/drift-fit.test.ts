import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/seeded-random.js';
import { DriftFit } from '../../src/member/drift-fit.js';

const gaussian = (seed: number): (() => number) => {
  const rnd = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
};

describe('DriftFit', () => {
  it('gives no drift until its slope is known to 20 ppm, then the true one within its standard error', () => {
    const g = gaussian(3);
    const fit = new DriftFit();
    const drift = 180e-6;
    let firstAt: number | null = null;
    for (let k = 0; k < 100; k++) {
      const t = k * 0.1;
      fit.add(t, 0.004 + drift * t + 50e-6 * g());
      const e = fit.estimate();
      if (e && firstAt === null) firstAt = t;
    }
    // 50 µs readings at 10/s: ±20 ppm after ~2 s (σ·√(12 / (n·T²)))
    expect(firstAt).not.toBeNull();
    expect(firstAt!).toBeGreaterThan(1);
    expect(firstAt!).toBeLessThan(3.5);
    const e = fit.estimate()!;
    expect(e.stdError).toBeLessThan(4e-6);
    expect(Math.abs(e.drift - drift)).toBeLessThan(4 * e.stdError);
  });

  it('segments keep their own intercepts: a re-arm\'s step in the error does not tilt the slope', () => {
    const g = gaussian(4);
    const pooled = new DriftFit();
    const naive = new DriftFit();
    const drift = -120e-6;
    let t = 0;
    for (const offset of [0.002, -0.006, 0.009]) {
      pooled.newSegment();
      for (let k = 0; k < 50; k++, t += 0.1) {
        const u = offset + drift * t + 30e-6 * g();
        pooled.add(t, u);
        naive.add(t, u); // one segment: the steps look like a slope
      }
      t += 2; // the transient after a re-arm is not fitted
    }
    const e = pooled.estimate()!;
    expect(Math.abs(e.drift - drift)).toBeLessThan(5e-6);
    const wrong = naive.estimate();
    expect(wrong === null || Math.abs(wrong.drift - drift) > 100e-6).toBe(true);
  });

  it('slow readings far off the line are left out of the fit', () => {
    const g = gaussian(5);
    const fit = new DriftFit();
    const clean = new DriftFit();
    const drift = 60e-6;
    for (let k = 0; k < 200; k++) {
      const t = k * 0.1;
      const u = drift * t + 40e-6 * g();
      clean.add(t, u);
      // one reading in 20 is 1.5 ms late (a slow round trip under load), more of them late in the window
      fit.add(t, k % 20 === 7 || (k > 180 && k % 3 === 0) ? u + 0.0015 : u);
    }
    const e = fit.estimate()!;
    expect(Math.abs(e.drift - clean.estimate()!.drift)).toBeLessThan(2e-6);
    expect(Math.abs(e.drift - drift)).toBeLessThan(6e-6);
  });

  it('follows a drift that changes, within its window', () => {
    const fit = new DriftFit({ windowSec: 10 });
    let u = 0;
    for (let k = 0; k < 400; k++) {
      const t = k * 0.1;
      u += (k < 200 ? 100e-6 : -100e-6) * 0.1;
      fit.add(t, u + (k % 2 ? 20e-6 : -20e-6));
      if (k === 199) expect(fit.estimate()!.drift).toBeCloseTo(100e-6, 5);
    }
    expect(fit.estimate()!.drift).toBeCloseTo(-100e-6, 5);
  });

  it('holds a bounded number of readings whatever their rate, ignores ones that are not numbers, and forgets all on clear', () => {
    const fit = new DriftFit();
    for (let k = 0; k < 20_000; k++) fit.add(k * 0.001, k * 1e-9);
    expect(fit.size).toBe(600);
    fit.add(Number.NaN, 0);
    fit.add(21, Number.POSITIVE_INFINITY);
    expect(fit.size).toBe(600);
    expect(fit.estimate()!.drift).toBeCloseTo(1e-6, 9);
    fit.clear();
    expect(fit.size).toBe(0);
    expect(fit.estimate()).toBeNull();
  });
});
