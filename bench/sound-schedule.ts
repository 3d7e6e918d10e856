/**
 * Where a recorded member's sound is against the schedule, not just against the other members.
 *
 * The recording's sample k was heard at `firstSampleMs + k / rate` (the recorder stamps the chunks
 * it receives by their arrival on the monotonic clock every process here shares; see
 * pulse-room.ts). The schedule says which track and position should be audible at any instant. So
 * a window of the recording starting at instant t is cross-correlated with the decoded track from
 * the position the schedule gives for t: the lag is how late (positive) the sound is against the
 * wall-clock schedule. Same estimator as the member-to-member spread (audio-spread.ts).
 *
 * The onset of a start is also found directly: the first sample above a threshold, against the
 * first sample above the same threshold in the track after the scheduled position.
 */
import { lagBetween } from './audio-spread.js';

export interface Scheduled {
  trackIndex: number;
  positionSec: number;
}

export interface ScheduleLag {
  /** window start, monotonic ms */
  fromMs: number;
  /** the sound's lag behind the schedule, ms (null: silent, unclear, or beyond the search range) */
  lagMs: number | null;
  coherence: number | null;
}

export interface RecordedChannel {
  samples: Float32Array;
  sampleRate: number;
  firstSampleMs: number;
}

/**
 * Lag of the recorded sound behind the schedule over [fromMs, fromMs + windowSec): `expected(t)`
 * must give the same track over the window, moving at 1 s per s.
 */
export function scheduleLag(rec: RecordedChannel, refs: readonly (Float32Array | null)[], expected: (tMs: number) => Scheduled | null, fromMs: number, windowSec = 1, maxLagMs = 20): ScheduleLag {
  const fs = rec.sampleRate;
  const n = Math.round(windowSec * fs);
  const a = expected(fromMs);
  const b = expected(fromMs + windowSec * 1000);
  const none = { fromMs, lagMs: null, coherence: null };
  if (!a || !b || a.trackIndex !== b.trackIndex || Math.abs(b.positionSec - a.positionSec - windowSec) > 0.01) return none;
  const ref = refs[a.trackIndex];
  if (!ref) return none;
  const r0 = Math.round(a.positionSec * fs);
  const k0 = Math.round(((fromMs - rec.firstSampleMs) / 1000) * fs);
  if (r0 < 0 || r0 + n > ref.length || k0 < 0 || k0 + n > rec.samples.length) return none;
  // Both segments start on whole samples: the recording's at Tk (not fromMs), the track's at
  // r0/fs (not positionSec). Recorded sample j holds track position r0/fs + j/fs − lag, due at
  // positionSec + (Tk − fromMs) + j/fs: it is late by lag + (Tk − fromMs) − (r0/fs − positionSec).
  const roundingMs = ((k0 / fs) * 1000 + rec.firstSampleMs - fromMs) - ((r0 / fs - a.positionSec) * 1000);
  const r = lagBetween(ref.subarray(r0, r0 + n), rec.samples.subarray(k0, k0 + n), { sampleRate: fs, maxLagMs });
  return { fromMs, lagMs: r.lagMs === null ? null : r.lagMs + roundingMs, coherence: r.coherence };
}

/** Index of the first sample at or after `from` whose magnitude reaches `threshold`, or null. */
export function firstAbove(samples: Float32Array, from: number, threshold: number): number | null {
  for (let i = Math.max(0, from); i < samples.length; i++) if (Math.abs(samples[i]!) >= threshold) return i;
  return null;
}

/**
 * Onset error of a start scheduled at `instantMs` (track `start.trackIndex` from `start.positionSec`):
 * when the recording first reaches `thresholdDbfs`, minus when it should (the instant plus the
 * time the track itself takes to reach that level from the scheduled position). Searched from
 * `searchBeforeMs` before the instant. Null when the recording stays below the threshold.
 */
export function onsetErrorMs(rec: RecordedChannel, ref: Float32Array, start: Scheduled, instantMs: number, thresholdDbfs = -40, searchBeforeMs = 200): number | null {
  const fs = rec.sampleRate;
  const thr = Math.pow(10, thresholdDbfs / 20);
  const inRef = firstAbove(ref, Math.round(start.positionSec * fs), thr);
  if (inRef === null) return null;
  const expectedMs = instantMs + ((inRef / fs - start.positionSec) * 1000);
  const from = Math.round(((instantMs - searchBeforeMs - rec.firstSampleMs) / 1000) * fs);
  const inRec = firstAbove(rec.samples, from, thr);
  if (inRec === null) return null;
  return rec.firstSampleMs + (inRec / fs) * 1000 - expectedMs;
}
