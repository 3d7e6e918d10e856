/**
 * The click-onset meter on synthetic recordings: the click found to the sample among music and
 * filter ringing, and its time from chunk arrivals that jitter and drift against the clock.
 */
import { describe, expect, it } from 'vitest';
import { CLICK_AT_SEC, CLICK_LEVEL, CLICK_THRESHOLD, captureTimeOf, clickIndex, findClick, mixBlockMs, withClick } from '../../bench/click-onset.js';

const RATE = 44_100;
const BLOCK = 441; // 10 ms

/** A seeded uniform random in [0, 1). */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

/** Music-like noise fading in from silence: level rises to `peak` over `fadeSec`. */
function fadeIn(n: number, peak: number, fadeSec: number, rand: () => number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = peak * Math.min(1, i / (fadeSec * RATE)) * (2 * rand() - 1);
  return x;
}

/**
 * Arrivals of a capture that delivers whole blocks: block j (frames up to (j + 1) × BLOCK) is
 * complete at captureMs(last frame) and arrives after a wake-up delay (mostly small, sometimes
 * long). `captureMs(k)` is the true capture time of frame k.
 */
function arrivalsOf(frames: number, captureMs: (k: number) => number, rand: () => number): [number, number][] {
  const out: [number, number][] = [];
  for (let end = BLOCK; end <= frames; end += BLOCK) {
    const wake = 0.03 + (rand() < 0.8 ? 0.3 * rand() : 5 * rand());
    out.push([captureMs(end - 1) + wake, end]);
  }
  return out;
}

describe('click onset', () => {
  it('puts a click 100 ms into a quiet track, and refuses a track too loud there', () => {
    const quiet = fadeIn(RATE, 0.5, 2, rng(1));
    const [c] = withClick([quiet], RATE);
    const at = Math.round(CLICK_AT_SEC * RATE);
    expect(c![at]).toBeCloseTo(CLICK_LEVEL, 6);
    expect(clickIndex(c!, 0, c!.length)).toBe(at);
    expect(c![at + 1]).toBe(quiet[at + 1]);
    expect(() => withClick([fadeIn(RATE, 0.9, 0.01, rng(2))], RATE)).toThrow(/too loud/);
  });

  it('finds the click to the sample among music and filter ringing, and nothing where there is none', () => {
    const x = fadeIn(RATE, 0.3, 0.5, rng(3));
    expect(clickIndex(x, 0, x.length)).toBeNull();
    // A click through a resampler: a main lobe with ringing before and after it.
    const k = 12_345;
    const ring = [0.05, -0.12, 0.2, 0.8, 0.3, -0.15, 0.07];
    ring.forEach((v, i) => (x[k - 3 + i]! += v));
    expect(clickIndex(x, 0, x.length)).toBe(k);
    expect(clickIndex(x, k + 1, x.length)).toBeNull();
    expect(CLICK_THRESHOLD).toBeLessThan(0.8);
  });

  it('times a frame by the arrivals near it, to a fraction of a millisecond, though the capture drifts 900 ppm against the clock', () => {
    const rand = rng(4);
    const frames = 80 * RATE;
    const t0 = 5000;
    const rate = 1 + 900e-6; // this capture delivers 0.9 ms per second more audio than the clock passes
    const captureMs = (k: number) => t0 + ((k / RATE) * 1000) / rate;
    const arrivals = arrivalsOf(frames, captureMs, rand);
    expect(mixBlockMs(arrivals, RATE)).toBeCloseTo(10, 6);
    for (const k of [3 * RATE + 17, 16 * RATE + 200, 40 * RATE + 99, 79 * RATE]) {
      const t = captureTimeOf(arrivals, RATE, k)!;
      expect(Math.abs(t - captureMs(k))).toBeLessThan(0.15);
    }
    // One bound over the whole recording (the tightest chunk anywhere) is tens of ms off early on.
    const global = Math.min(...arrivals.map(([a, f]) => a - ((f - 1) / RATE) * 1000));
    expect(Math.abs(global + ((16 * RATE) / RATE) * 1000 - captureMs(16 * RATE))).toBeGreaterThan(20);
  });

  it('finds when a recorded click was played: its capture time plus one mixing block', () => {
    const rand = rng(5);
    const frames = 20 * RATE;
    const t0 = 100_000;
    const captureMs = (k: number) => t0 + (k / RATE) * 1000;
    const rec = new Float32Array(frames);
    const k = 8 * RATE + 1234; // the click, heard here
    const start = k - Math.round(CLICK_AT_SEC * RATE);
    rec.set(withClick([fadeIn(frames - start, 0.4, 1, rand)], RATE)[0]!, start);
    const arrivals = arrivalsOf(frames, captureMs, rand);
    const at = captureMs(k);
    const found = findClick(rec, arrivals, RATE, at - 60, at + 60)!;
    expect(found.frame).toBe(k);
    expect(Math.abs(found.capturedMs - at)).toBeLessThan(0.15);
    expect(found.playedMs - found.capturedMs).toBeCloseTo(10, 6);
    // Outside the window searched: not found.
    expect(findClick(rec, arrivals, RATE, at + 5, at + 100)).toBeNull();
    expect(findClick(rec, arrivals, RATE, at - 200, at - 100)).toBeNull();
  });
});
