/**
 * The calibration test signal: an exponential (logarithmic) sine sweep with raised-cosine fades.
 *
 * Why an exponential sweep:
 * - It spends equal time in every octave, so it sounds like one smooth rising "whoop" rather than a
 *   hiss or a harsh chirp, and its energy per octave is constant (a pink-ish spectrum, like most
 *   room noise), which gives a similar signal-to-noise ratio in every octave.
 * - A sweep is a long, quiet signal with a large time-bandwidth product: the matched filter
 *   (cross-correlation) compresses it into a sharp peak, ~1/bandwidth wide, with a processing gain
 *   of roughly 10·log10(duration × bandwidth) dB, so it can be played at a moderate volume.
 * - Harmonic distortion of a small speaker does not blur the peak: with an exponential sweep the
 *   k-th harmonic is a copy of the sweep shifted K·ln(k) earlier (0.28 s for the 2nd harmonic with
 *   the default), so it shows up as a separate, much weaker peak well before the direct one.
 *
 * DEFAULT_SWEEP, 200 Hz → 8 kHz in 1.5 s at −10.5 dBFS (amplitude 0.3), 50 ms fades:
 * - 200 Hz: phone, laptop and small Bluetooth speakers reproduce little below ~150–250 Hz, and a
 *   sweep that starts lower spends its first octaves on sound they cannot make; 200 Hz also starts
 *   warm rather than boomy.
 * - 8 kHz: above ~8–10 kHz a sweep turns shrill (the part people find unpleasant), cheap speakers
 *   and phone/laptop microphones roll off, and higher frequencies are the most directional (a
 *   speaker turned slightly away loses them). 200 Hz–8 kHz is still 7.8 kHz of bandwidth: after
 *   whitening the correlation peak is ~0.13 ms wide, and sub-sample interpolation resolves a few µs.
 * - 1.5 s: a time-bandwidth product of ~11 700 (~40 dB of processing gain), enough to be found at
 *   0 dB SNR or under music, yet short enough to be a brief, party-friendly cue per speaker.
 * - amplitude 0.3: leaves headroom so small speakers and amplifiers stay out of distortion and the
 *   microphone does not clip at a normal listening volume.
 * - 50 ms raised-cosine fades: no click at the start or end (a click is an unpleasant broadband
 *   transient and would smear the spectrum outside the sweep's band).
 */

export interface SweepSpec {
  kind: 'sweep';
  /** Start frequency, Hz. */
  f0: number;
  /** End frequency, Hz (below sampleRate / 2). */
  f1: number;
  durationSec: number;
  sampleRate: number;
  /** Peak amplitude, 0 < amplitude ≤ 1 (full scale = 1). */
  amplitude: number;
  /** Length of each raised-cosine fade (in and out), seconds; ≤ durationSec / 2. */
  fadeSec: number;
}

export const DEFAULT_SWEEP: SweepSpec = Object.freeze({
  kind: 'sweep',
  f0: 200,
  f1: 8000,
  durationSec: 1.5,
  sampleRate: 48_000,
  amplitude: 0.3,
  fadeSec: 0.05,
}) as SweepSpec;

/** Throws a RangeError naming the first invalid field of a sweep spec. */
export function validateSweep(spec: SweepSpec): void {
  const finite = (v: number) => typeof v === 'number' && Number.isFinite(v);
  if (spec.kind !== 'sweep') throw new RangeError(`unknown test signal kind: ${String(spec.kind)}`);
  if (!finite(spec.sampleRate) || spec.sampleRate < 8000 || spec.sampleRate > 384_000)
    throw new RangeError(`sweep sampleRate must be 8000–384000 Hz, got ${spec.sampleRate}`);
  if (!finite(spec.f0) || spec.f0 <= 0) throw new RangeError(`sweep f0 must be > 0 Hz, got ${spec.f0}`);
  if (!finite(spec.f1) || spec.f1 <= spec.f0 || spec.f1 >= spec.sampleRate / 2)
    throw new RangeError(
      `sweep f1 must be above f0 (${spec.f0} Hz) and below half the sample rate (${spec.sampleRate / 2} Hz), got ${spec.f1}`,
    );
  if (!finite(spec.durationSec) || spec.durationSec <= 0 || spec.durationSec > 60)
    throw new RangeError(`sweep durationSec must be in (0, 60], got ${spec.durationSec}`);
  if (!finite(spec.amplitude) || spec.amplitude <= 0 || spec.amplitude > 1)
    throw new RangeError(`sweep amplitude must be in (0, 1], got ${spec.amplitude}`);
  if (!finite(spec.fadeSec) || spec.fadeSec < 0 || spec.fadeSec > spec.durationSec / 2)
    throw new RangeError(`sweep fadeSec must be in [0, durationSec/2], got ${spec.fadeSec}`);
}

/** Number of samples renderSweep() returns: round(durationSec × sampleRate). */
export function sweepLength(spec: SweepSpec): number {
  return Math.round(spec.durationSec * spec.sampleRate);
}

/**
 * The continuous-time sweep at time t seconds after its start (0 outside [0, durationSec]).
 * renderSweep() samples exactly this at t = n / sampleRate; tests use it to render the signal at a
 * fractional delay without a fractional-delay filter.
 *
 * Phase: φ(t) = 2π·f0·K·(e^{t/K} − 1) with K = T / ln(f1/f0), so the instantaneous frequency
 * f0·e^{t/K} runs from f0 at t = 0 to f1 at t = T.
 */
export function sweepValueAt(spec: SweepSpec, tSec: number): number {
  const T = spec.durationSec;
  if (!(tSec >= 0) || tSec > T) return 0;
  const K = T / Math.log(spec.f1 / spec.f0);
  const phase = 2 * Math.PI * spec.f0 * K * Math.expm1(tSec / K);
  let gain = spec.amplitude;
  const fade = spec.fadeSec;
  if (fade > 0) {
    if (tSec < fade) gain *= 0.5 * (1 - Math.cos((Math.PI * tSec) / fade));
    else if (tSec > T - fade) gain *= 0.5 * (1 - Math.cos((Math.PI * (T - tSec)) / fade));
  }
  return gain * Math.sin(phase);
}

/** Mono samples of the sweep (deterministic: pure double-precision arithmetic, no randomness). */
export function renderSweep(spec: SweepSpec): Float32Array {
  validateSweep(spec);
  const n = sweepLength(spec);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sweepValueAt(spec, i / spec.sampleRate);
  return out;
}
