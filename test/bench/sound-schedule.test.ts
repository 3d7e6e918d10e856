import { describe, expect, it } from 'vitest';
import { fractionalDelay } from '../../bench/audio-spread.js';
import { seededRandom } from '../../bench/seeded-random.js';
import { onsetErrorMs, scheduleLag } from '../../bench/sound-schedule.js';

const FS = 44_100;

/** Tonal notes (as in the audio-spread test), `leadSec` of silence first. */
function track(seconds: number, leadSec = 0, seed = 3): Float32Array {
  const r = seededRandom(seed);
  const n = Math.round(seconds * FS);
  const out = new Float32Array(n);
  const noteLen = Math.round(0.25 * FS);
  for (let start = Math.round(leadSec * FS); start < n; start += noteLen) {
    const f0 = 110 * Math.pow(2, Math.floor(r() * 36) / 12);
    for (let i = start; i < Math.min(n, start + noteLen); i++) {
      const t = (i - start) / FS;
      let v = 0;
      for (let h = 1; h <= 5; h++) v += Math.sin(2 * Math.PI * f0 * h * (i / FS)) / h;
      out[i] = 0.2 * Math.min(1, t / 0.002) * Math.exp(-t * 3) * v;
    }
  }
  return out;
}

describe('sound against the schedule', () => {
  // The recording's first sample was heard at 1000.123 ms; the schedule has the track start
  // (position 0) at 1500 ms; the sound is 0.3 ms late.
  const first = 1000.123;
  const instant = 1500;
  const lateMs = 0.3;
  const ref = track(3, 0.2);
  const delaySamples = ((instant + lateMs - first) / 1000) * FS;
  const rec = Float32Array.from(fractionalDelay(ref, delaySamples));
  const channel = { samples: rec, sampleRate: FS, firstSampleMs: first };
  const expected = (t: number) => (t >= instant ? { trackIndex: 0, positionSec: (t - instant) / 1000 } : null);

  it('finds how late the sound is against the wall-clock schedule, to a few µs', () => {
    for (const from of [1750, 2000.37, 2201]) {
      const r = scheduleLag(channel, [ref], expected, from);
      expect(r.lagMs).not.toBeNull();
      expect(Math.abs(r.lagMs! - lateMs)).toBeLessThan(0.005);
      expect(r.coherence!).toBeGreaterThan(0.99);
    }
  });

  it('gives nothing across a change of track or beyond the recording', () => {
    const jump = (t: number) => (t < 2300 ? expected(t) : { trackIndex: 1, positionSec: 0 });
    expect(scheduleLag(channel, [ref, ref], jump, 2000).lagMs).toBeNull();
    expect(scheduleLag(channel, [ref], expected, 5000).lagMs).toBeNull();
  });

  it('times the onset of a start against the schedule, to a sample', () => {
    const on = onsetErrorMs(channel, ref, { trackIndex: 0, positionSec: 0 }, instant);
    expect(on).not.toBeNull();
    expect(Math.abs(on! - lateMs)).toBeLessThan(1000 / FS + 0.01);
    // a start 12 ms late is measured as such
    const late = { ...channel, samples: Float32Array.from(fractionalDelay(ref, delaySamples + (12 * FS) / 1000)) };
    expect(onsetErrorMs(late, ref, { trackIndex: 0, positionSec: 0 }, instant)! - lateMs).toBeCloseTo(12, 1);
  });
});
