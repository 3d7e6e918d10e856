import { describe, expect, it } from 'vitest';
import { channelLags, deinterleaveS16, fractionalDelay, lagBetween } from '../../bench/audio-spread.js';
import { seededRandom } from '../../bench/seeded-random.js';

const FS = 44_100;

/** Deterministic pseudo-random numbers (mulberry32). */
const rng = seededRandom;

/**
 * Tonal "music" like the bundled tracks: notes of 5 harmonics changing every 250 ms with soft
 * attacks, plus a copy of itself 43 ms later (the short self-similarity that fools a wide lag
 * search), plus a little noise.
 */
function music(seconds: number, seed = 1): Float64Array {
  const r = rng(seed);
  const n = Math.round(seconds * FS);
  const dry = new Float64Array(n);
  const noteLen = Math.round(0.25 * FS);
  for (let start = 0; start < n; start += noteLen) {
    const f0 = 110 * Math.pow(2, Math.floor(r() * 36) / 12);
    const phases = Array.from({ length: 5 }, () => r() * 2 * Math.PI);
    for (let i = start; i < Math.min(n, start + noteLen); i++) {
      const t = (i - start) / FS;
      const env = Math.min(1, t / 0.01) * Math.exp(-t * 3);
      let v = 0;
      for (let h = 1; h <= 5; h++) v += Math.sin(2 * Math.PI * f0 * h * (i / FS) + phases[h - 1]!) / h;
      dry[i] = 0.2 * env * v;
    }
  }
  const echo = Math.round(0.043 * FS);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = dry[i]! + 0.7 * (i >= echo ? dry[i - echo]! : 0) + 0.001 * (r() - 0.5);
  return out;
}

describe('audio-level spread', () => {
  const src = music(4);

  it('finds constant sub-sample offsets to within 2 µs, ignoring the 43 ms self-similarity', () => {
    const delaysMs = [0, 0.137, -2.5, 0.01, 7.31];
    const channels = delaysMs.map((d) => fractionalDelay(src, (d * FS) / 1000));
    const windows = channelLags(channels, { sampleRate: FS, windowSec: 1, hopSec: 0.5 });
    expect(windows.length).toBeGreaterThanOrEqual(6);
    for (const w of windows) {
      for (let ch = 1; ch < delaysMs.length; ch++) {
        expect(w.lagMs[ch]).not.toBeNull();
        expect(Math.abs(w.lagMs[ch]! - delaysMs[ch]!)).toBeLessThan(0.002);
      }
      expect(Math.abs(w.spreadMs! - (7.31 - -2.5))).toBeLessThan(0.004);
    }
  });

  it('follows an offset that changes over time (a member converging), window by window', () => {
    // channel 1 moves from 0.30 ms late to 0.05 ms late over the 4 s (62.5 µs/s)
    const delayAt = (i: number): number => ((0.3 - (0.25 * i) / src.length) * FS) / 1000;
    const channels = [fractionalDelay(src, 0), fractionalDelay(src, delayAt)];
    const windows = channelLags(channels, { sampleRate: FS, windowSec: 1, hopSec: 0.5 });
    // A window's estimate is an energy-weighted mean of the delay inside it: it must lie within
    // the delays the window spans (±2 µs), and on average sit at the window's centre.
    let sumErr = 0;
    for (const w of windows) {
      const lo = (delayAt((w.tSec + 0.5) * FS) / FS) * 1000;
      const hi = (delayAt((w.tSec - 0.5) * FS) / FS) * 1000;
      expect(w.lagMs[1]!).toBeGreaterThan(lo - 0.002);
      expect(w.lagMs[1]!).toBeLessThan(hi + 0.002);
      sumErr += w.lagMs[1]! - (delayAt(w.tSec * FS) / FS) * 1000;
    }
    expect(Math.abs(sumErr / windows.length)).toBeLessThan(0.01);
  });

  it('a narrow lag search is what keeps the tonal self-similarity out', () => {
    const a = fractionalDelay(src, 0).subarray(0, FS);
    const b = fractionalDelay(src, (0.2 * FS) / 1000).subarray(0, FS);
    expect(lagBetween(a, b, { sampleRate: FS, maxLagMs: 20 }).lagMs).toBeCloseTo(0.2, 2);
  });

  it('gives no estimate for silence and refuses a peak at the edge of the search range', () => {
    const silent = new Float64Array(FS);
    expect(lagBetween(silent, src.subarray(0, FS), { sampleRate: FS }).lagMs).toBeNull();
    const far = fractionalDelay(src, (30 * FS) / 1000).subarray(FS, 2 * FS);
    const r = lagBetween(src.subarray(FS, 2 * FS), far, { sampleRate: FS, maxLagMs: 20, minConfidenceDb: 0 });
    // the true lag (30 ms) is outside ±20 ms: either refused or clearly not a small offset
    expect(r.lagMs === null || Math.abs(r.lagMs) > 1).toBe(true);
  });

  it('coherence is 1 for a pure delay and drops when the timing moves inside the window', () => {
    const steady = lagBetween(fractionalDelay(src, 0).subarray(0, FS), fractionalDelay(src, (0.137 * FS) / 1000).subarray(0, FS), { sampleRate: FS });
    expect(steady.coherence).toBeGreaterThan(0.995);
    // 1 ms of wander within one second (a speed 0.1 % off for a second): the sound no longer
    // matches itself at any single lag
    const moving = fractionalDelay(src, (i: number) => (i / FS) * 0.001 * FS).subarray(0, FS);
    const r = lagBetween(fractionalDelay(src, 0).subarray(0, FS), moving, { sampleRate: FS });
    expect(r.lagMs).not.toBeNull();
    expect(r.coherence!).toBeLessThan(steady.coherence! - 0.02);
    // unrelated sound is not coherent
    const other = music(1, 7);
    const u = lagBetween(src.subarray(0, FS), other, { sampleRate: FS, minConfidenceDb: 0 });
    expect(u.coherence === null || u.coherence < 0.5).toBe(true);
  });

  it('splits interleaved s16le PCM into channels', () => {
    const buf = Buffer.alloc(3 * 2 * 2);
    [100, -200, 300, 16384, -32768, 0].forEach((v, i) => buf.writeInt16LE(v, 2 * i));
    const [a, b, c] = deinterleaveS16(buf, 3);
    expect(Array.from(a!)).toEqual([100 / 32768, 16384 / 32768]);
    expect(Array.from(b!)).toEqual([-200 / 32768, -1]);
    expect(Array.from(c!)).toEqual([300 / 32768, 0]);
  });
});
