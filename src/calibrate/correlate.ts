/**
 * Arrival-time estimation: where does the reference (the test sweep) start in a recording?
 *
 * Generalized cross-correlation (GCC) in the frequency domain:
 *   G(k) = X(k)·S*(k)·W(k),  c(τ) = IDFT(G)(τ),  arrival = argmax |c|
 * with X the recording, S the reference and W a weighting.
 *
 * Weighting (default 'scot'): smoothed-coherence transform with auto-spectra smoothed over 1/6
 * octave, W = M / sqrt(P̃xx·P̃ss), restricted to the reference's band by M = P̃ss/(P̃ss + λ).
 * - Like PHAT it whitens: the sweep's 1/f spectrum, the speaker's and microphone's colouring and the
 *   room's broad colouring are flattened, so the peak is as sharp as the band allows (~1/7.8 kHz).
 * - Unlike per-bin PHAT (X·conj(S)/|X·conj(S)|, which without spectral averaging is also what unsmoothed SCOT
 *   reduces to) it is linear in the recording, because W varies smoothly with frequency. That
 *   matters here: per-bin PHAT of a direct path plus a reflection of relative size a yields a
 *   spurious "pre-echo" of size ≈ a/2 *before* the direct peak (and intermodulation peaks when a
 *   recording holds several members' sweeps), while a linear weighting keeps every reflection at
 *   its true relative size and position, so the first strong peak is the direct sound.
 * - Bands where the recording is loud (rumble, music, hum) get proportionally less weight, which is
 *   the maximum-likelihood direction at low SNR, where per-bin PHAT gives pure-noise bins full
 *   weight.
 * - Per-bin exception: a bin more than 10 dB above its smoothed neighbourhood (a tone in music, mains
 *   hum harmonics) is weighted by its own magnitude, i.e. PHAT-like, so tonal interference cannot
 *   dominate the correlation.
 * 'phat' (PHAT-β, W = M/|X·conj(S)|^β) is kept as an option for comparison.
 *
 * Sub-sample delay: parabolic interpolation of the real correlation around the peak, refined by
 * Newton's method on the exact band-limited interpolant c(τ) = Re Σ 2G(k)e^{j2πkτ/N}, evaluated
 * directly from the weighted spectrum (no upsampling): bias-free to well under 0.01 sample.
 *
 * The peak is searched on the envelope |c + jĉ| (analytic correlation), which does not depend on the
 * carrier phase; polarity (an inverted speaker or microphone) is detected and reported, the delay
 * is then taken from the real correlation's extremum of that polarity.
 */
import { fftOf, nextPow2, type FFT } from '../audio/fft.js';
import { median } from '../math/median.js';

export interface ArrivalEstimate {
  /** Arrival of the reference's first sample, in samples from the start of the recording (sub-sample). */
  delaySamples: number;
  /** delaySamples converted to milliseconds. */
  delayMs: number;
  /**
   * Peak-to-sidelobe ratio in dB: 20·log10(envelope peak / RMS envelope of the correlation), the
   * RMS estimated robustly from the median envelope over all lags (so other peaks, the reverberant
   * tail and other members' signals barely count). Noise alone gives 8–12 dB; a clean capture 40+.
   */
  confidence: number;
  /** Largest other envelope peak (outside ±peakExclusionMs of the chosen one) / chosen peak, in [0, 1]. */
  secondPeakRatio: number;
  /** Lag of that second peak relative to the chosen one, ms (negative: earlier). NaN if none. */
  secondPeakOffsetMs: number;
  /**
   * Broadband SNR of the recording in dB: power while the signal plays (minus noise) over the noise
   * power, the noise measured as the median power of 20 ms blocks away from the signal and its
   * reverberant tail (0.3 s). NaN when the recording holds no such block.
   */
  snrDb: number;
  /** −1 when the signal arrived inverted (speaker or microphone wired in opposite polarity). */
  polarity: 1 | -1;
  ok: boolean;
  /** Why the estimate was refused (ok: false), in words a user can act on. */
  reason?: string;
  /** Machine-readable refusal class. */
  refusal?: ArrivalRefusal;
}

export type ArrivalRefusal =
  | 'too-short'
  | 'silence'
  | 'clipped'
  | 'not-heard'
  | 'too-noisy'
  | 'ambiguous'
  | 'early-peak'
  | 'window-edge';

export interface FindArrivalOptions {
  /** Earliest arrival to consider (sample index in the recording), default 0. */
  searchFromSample?: number;
  /**
   * Latest arrival to consider (inclusive), default recording.length − reference.length (the whole
   * signal must be inside the recording). When a recording holds several members' signals, give a
   * window that holds only this member's arrival.
   */
  searchToSample?: number;
  /** Minimum peak-to-sidelobe ratio (dB) to accept, default 20 (noise alone reaches ~12). */
  minConfidence?: number;
  /**
   * Refuse when a later peak is at least this fraction of the chosen one (an echo as strong as the
   * direct sound, or a second source), default 0.9 (−0.9 dB). A later echo weaker than this cannot
   * mislead: the direct sound arrives first and is the one chosen.
   */
  maxSecondPeakRatio?: number;
  /**
   * Refuse when an *earlier* peak is at least this fraction of the chosen one, default 0.5: nothing
   * arrives before the direct sound, so a strong earlier peak means the strongest peak is probably a
   * reflection (direct path blocked) or another source.
   */
  maxEarlyPeakRatio?: number;
  /** Half-width of the chosen peak's main lobe excluded when looking for a second peak, ms, default 1. */
  peakExclusionMs?: number;
  /** Recording kept on each side of the search window for the correlation and noise estimates, s, default 1. */
  contextSec?: number;
  /** A sample at or above this magnitude counts as clipped, default 0.99. */
  clipLevel?: number;
  /** Refuse when more than this fraction of the samples in the window are clipped, default 0.01. */
  maxClippedFraction?: number;
  /** Refuse as silence when the window's RMS is below this, dBFS, default −90. */
  silenceDbfs?: number;
  /**
   * When the signal is not found: a window louder than this (dBFS RMS, default −45, a loud room
   * picked up by a sensitive microphone) is reported as too noisy, a quieter one as not heard.
   */
  noisyDbfs?: number;
  /** Spectral weighting, default 'scot' (see the module comment). */
  weighting?: 'scot' | 'phat';
  /** β for weighting 'phat' (1 = classic PHAT), default 1. */
  phatBeta?: number;
}

const RAYLEIGH_RMS_PER_MEDIAN = Math.SQRT2 / Math.sqrt(2 * Math.LN2); // ≈ 1.2011

function db(ratio: number): number {
  return 20 * Math.log10(ratio);
}

/**
 * Constant-Q smoothing of a power spectrum p[0..half): each bin becomes the mean over
 * [k/q, k·q] (at least ±2 bins), q = 2^(1/12), i.e. a 1/6-octave band.
 */
function smoothConstantQ(p: Float64Array): Float64Array {
  const n = p.length;
  const cum = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) cum[k + 1] = cum[k]! + p[k]!;
  const q = Math.pow(2, 1 / 12);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const lo = Math.max(0, Math.min(k - 2, Math.floor(k / q)));
    const hi = Math.min(n - 1, Math.max(k + 2, Math.ceil(k * q)));
    out[k] = (cum[hi + 1]! - cum[lo]!) / (hi - lo + 1);
  }
  return out;
}

function refused(
  refusal: ArrivalRefusal,
  reason: string,
  sampleRate: number,
  partial: Partial<ArrivalEstimate> = {},
): ArrivalEstimate {
  const delaySamples = partial.delaySamples ?? NaN;
  return {
    delaySamples,
    delayMs: (delaySamples / sampleRate) * 1000,
    confidence: partial.confidence ?? 0,
    secondPeakRatio: partial.secondPeakRatio ?? NaN,
    secondPeakOffsetMs: partial.secondPeakOffsetMs ?? NaN,
    snrDb: partial.snrDb ?? NaN,
    polarity: partial.polarity ?? 1,
    ok: false,
    reason,
    refusal,
  };
}

/**
 * Find where `reference` (the test signal as played) starts in `recording` (both mono, same sample
 * rate). Never throws for bad audio: returns ok: false with a reason instead. Throws a RangeError
 * only for invalid arguments (empty reference, bad sample rate, bad options).
 */
export function findArrival(
  recording: Float32Array,
  reference: Float32Array,
  sampleRate: number,
  opts: FindArrivalOptions = {},
): ArrivalEstimate {
  if (!(sampleRate > 0) || !Number.isFinite(sampleRate)) throw new RangeError(`invalid sample rate ${sampleRate}`);
  const L = reference.length;
  if (L < 16) throw new RangeError(`reference too short (${L} samples)`);
  const n = recording.length;
  const minConfidence = opts.minConfidence ?? 20;
  const maxSecond = opts.maxSecondPeakRatio ?? 0.9;
  const maxEarly = opts.maxEarlyPeakRatio ?? 0.5;
  const exclusion = Math.max(1, Math.round(((opts.peakExclusionMs ?? 1) * sampleRate) / 1000));
  const context = Math.max(0, Math.round((opts.contextSec ?? 1) * sampleRate));
  const clipLevel = opts.clipLevel ?? 0.99;
  const maxClipped = opts.maxClippedFraction ?? 0.01;
  const silenceRms = Math.pow(10, (opts.silenceDbfs ?? -90) / 20);
  const noisyDbfs = opts.noisyDbfs ?? -45;
  const weighting = opts.weighting ?? 'scot';
  const beta = opts.phatBeta ?? 1;
  const sec = (samples: number) => (samples / sampleRate).toFixed(2);

  if (n < L)
    return refused(
      'too-short',
      `the recording (${sec(n)} s) is shorter than the test signal (${sec(L)} s): record for longer`,
      sampleRate,
    );
  const lastStart = n - L;
  let from = Math.max(0, Math.ceil(opts.searchFromSample ?? 0));
  let to = Math.min(lastStart, Math.floor(opts.searchToSample ?? lastStart));
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RangeError('search window must be finite');
  if (to < from)
    return refused(
      'too-short',
      from > lastStart
        ? `the recording (${sec(n)} s) ends before the test signal could have been played completely ` +
            `(expected from ${sec(from)} s, lasting ${sec(L)} s): record for longer`
        : 'empty search window',
      sampleRate,
    );

  // ---- Level checks over the part of the recording that can hold the signal.
  const levels = levelRefusal(recording, from, to + L, clipLevel, maxClipped, silenceRms);
  if (levels) return refused(levels.refusal, levels.reason, sampleRate);

  // ---- Segment: the search window plus context on each side.
  const segStart = Math.max(0, from - context);
  const segEnd = Math.min(n, to + L + context);
  const m = segEnd - segStart;
  // Lags from −L/4 to m − 3L/4 must be free of circular wrap-around: N ≥ m + L/4.
  const floorFrom = -Math.floor(L / 4);
  const floorTo = m - L + Math.floor(L / 4);
  const N = nextPow2(m + Math.ceil(L / 4) + 1);
  const half = N / 2;
  const fft = fftOf(N);

  const x = new Float64Array(N);
  {
    let mean = 0;
    for (let i = 0; i < m; i++) mean += recording[segStart + i]!;
    mean /= m;
    for (let i = 0; i < m; i++) x[i] = recording[segStart + i]! - mean;
  }
  const X = new Float64Array(2 * N);
  fft.realTransform(X, x);
  const ref = referenceSpectrum(reference, N, fft);

  const weighted = weightedCrossSpectrum(X, ref, half, weighting, beta);
  if (!weighted) return refused('not-heard', 'the recording holds nothing in the test signal’s frequency band', sampleRate);
  const { G, centroidBin } = weighted;
  const kLo = ref.kLo;
  const nb = ref.kHi - kLo + 1;
  const corr = new BandCorrelation(G, kLo, N);

  // Envelope at every D-th lag from one small inverse FFT of the band shifted to baseband: the band
  // spans nb bins, so N/D ≥ 1.25·nb points sample the complex envelope without aliasing.
  let D = 1;
  while (D < 16 && N / (2 * D) >= 1.25 * nb) D *= 2;
  const Nd = N / D;
  const ifft = fftOf(Nd);
  const B = new Float64Array(2 * Nd);
  B.set(G);
  const b = new Float64Array(2 * Nd);
  ifft.inverseTransform(b, B);
  const scale = Nd / N; // fft.js divides by Nd; the full-rate correlation divides by N
  const envArr = new Float64Array(Nd);
  for (let j = 0; j < Nd; j++) envArr[j] = Math.sqrt(b[2 * j]! ** 2 + b[2 * j + 1]! ** 2) * scale;
  const envD = (j: number) => envArr[j < 0 ? j + Nd : j]!;
  /** Exact envelope maximum among integer lags within ±D of lag D·j. */
  const refineEnvPeak = (j: number, lo: number, hi: number): { lag: number; env: number } => {
    let bestLag = j * D;
    let bestEnv = -1;
    for (let l = Math.max(lo, j * D - D); l <= Math.min(hi, j * D + D); l++) {
      const e = corr.envelope(l);
      if (e > bestEnv) {
        bestEnv = e;
        bestLag = l;
      }
    }
    return { lag: bestLag, env: bestEnv };
  };

  // ---- Peak of the envelope in the search window (lags relative to segStart).
  const lagFrom = from - segStart;
  const lagTo = to - segStart;
  const jFrom = Math.ceil(lagFrom / D);
  const jTo = Math.max(jFrom, Math.floor(lagTo / D));
  let peakJ = jFrom;
  let peakD = -1;
  for (let j = jFrom; j <= jTo; j++) {
    const e = envD(j);
    if (e > peakD) {
      peakD = e;
      peakJ = j;
    }
  }
  const { lag: peakLag, env: peakEnv } = refineEnvPeak(peakJ, lagFrom, lagTo);

  // ---- Noise floor: robust RMS of the envelope over lags with ≥ 75 % overlap.
  const fj0 = Math.ceil(floorFrom / D);
  const fj1 = Math.floor(floorTo / D);
  const stride = Math.max(1, Math.floor((fj1 - fj0 + 1) / 16384));
  const sample = new Float64Array(Math.floor((fj1 - fj0) / stride) + 1);
  for (let i = 0, j = fj0; i < sample.length; i++, j += stride) sample[i] = envD(j);
  const floorRms = median(sample) * RAYLEIGH_RMS_PER_MEDIAN;
  const confidence = floorRms > 0 ? db(peakEnv / floorRms) : 200;

  // ---- Sub-sample refinement on the real correlation.
  const fc = (centroidBin * sampleRate) / N;
  const { tau, polarity } = refineDelay(corr, peakLag, Math.max(1, Math.round(sampleRate / (4 * fc))));
  const delaySamples = segStart + tau;

  // ---- Second peaks: strongest envelope values outside the main lobe, earlier and later.
  let earlyJ = NaN;
  let earlyD = -1;
  let lateJ = NaN;
  let lateD = -1;
  for (let j = jFrom; j <= jTo; j++) {
    if (Math.abs(j * D - peakLag) <= exclusion + D) continue;
    const e = envD(j);
    if (j * D < peakLag) {
      if (e > earlyD) {
        earlyD = e;
        earlyJ = j;
      }
    } else if (e > lateD) {
      lateD = e;
      lateJ = j;
    }
  }
  // Exact values only matter near a refusal threshold; elsewhere the decimated envelope will do.
  const exactIfClose = (j: number, e: number, threshold: number) =>
    e < 0 ? { lag: NaN, env: 0 } : e >= 0.6 * threshold * peakEnv ? refineEnvPeak(j, lagFrom, lagTo) : { lag: j * D, env: e };
  const earlyPk = exactIfClose(earlyJ, earlyD, maxEarly);
  const latePk = exactIfClose(lateJ, lateD, maxSecond);
  const early = earlyPk.env;
  const late = latePk.env;
  const earlyLag = earlyPk.lag;
  const lateLag = latePk.lag;
  const secondPeakRatio = peakEnv > 0 ? Math.min(1, Math.max(early, late) / peakEnv) : 0;
  const secondLag = early >= late ? earlyLag : lateLag;
  const secondPeakOffsetMs = ((secondLag - peakLag) / sampleRate) * 1000;

  // ---- SNR: power while the signal plays vs median power of 20 ms blocks clear of it.
  const snrDb = estimateSnr(recording, segStart, segEnd, Math.round(delaySamples), L, sampleRate);

  const result: ArrivalEstimate = {
    delaySamples,
    delayMs: (delaySamples / sampleRate) * 1000,
    confidence,
    secondPeakRatio,
    secondPeakOffsetMs,
    snrDb,
    polarity,
    ok: true,
  };
  const refuse = (refusal: ArrivalRefusal, reason: string): ArrivalEstimate => ({
    ...result,
    ok: false,
    refusal,
    reason,
  });

  if (confidence < minConfidence) {
    // Nothing found: everything in the window is noise, so its level says whether it drowned the signal.
    const noiseDbfs = noiseLevelDbfs(recording, from, to + L);
    const noisy = noiseDbfs > noisyDbfs;
    return refuse(
      noisy ? 'too-noisy' : 'not-heard',
      noisy
        ? `the test signal was drowned out: the room is too noisy (${noiseDbfs.toFixed(0)} dBFS, correlation peak ` +
            `only ${confidence.toFixed(1)} dB above the noise, need ${minConfidence}): make it quieter or turn the speaker up`
        : `the test signal was not heard (correlation peak only ${confidence.toFixed(1)} dB above the noise, ` +
            `need ${minConfidence}): turn the speaker up, move the microphone closer or check the input`,
    );
  }
  // The true peak may lie just outside the window: the envelope keeps rising past the edge.
  const beyond = (a: number, b: number) => {
    let e = 0;
    for (let l = a; l <= b; l++) e = Math.max(e, corr.envelope(l));
    return e;
  };
  const atStart = from > 0 && peakLag - lagFrom <= exclusion && beyond(lagFrom - exclusion, lagFrom - 1) > peakEnv;
  const atEnd = to < lastStart && lagTo - peakLag <= exclusion && beyond(lagTo + 1, lagTo + exclusion) > peakEnv;
  if (atStart || atEnd)
    return refuse(
      'window-edge',
      `the test signal arrived ${atStart ? 'earlier' : 'later'} than the search window allows ` +
        `(peak at its ${atStart ? 'start' : 'end'}, ${sec(segStart + peakLag)} s)`,
    );
  if (early >= maxEarly * peakEnv)
    return refuse(
      'early-peak',
      `a second arrival ${(((peakLag - earlyLag) / sampleRate) * 1000).toFixed(1)} ms before the strongest one, ` +
        `at ${db(early / peakEnv).toFixed(1)} dB: the direct sound may be blocked (the strongest arrival an echo) ` +
        'or another source played: point the speaker at the microphone and keep the path clear',
    );
  if (late >= maxSecond * peakEnv)
    return refuse(
      'ambiguous',
      `two comparable arrivals ${(((lateLag - peakLag) / sampleRate) * 1000).toFixed(1)} ms apart ` +
        `(the second at ${db(late / peakEnv).toFixed(1)} dB): a strong echo or a second source: move the ` +
        'microphone closer to the speaker, away from walls and hard surfaces',
    );
  return result;
}

/**
 * Level checks over recording[from, end): a silent window (a muted or unplugged microphone) or a
 * clipped one (hard clipping at full scale, or flat tops from digital limiting) cannot be measured.
 */
function levelRefusal(
  recording: Float32Array,
  from: number,
  end: number,
  clipLevel: number,
  maxClipped: number,
  silenceRms: number,
): { refusal: ArrivalRefusal; reason: string } | null {
  let sum = 0;
  let sumSq = 0;
  let clipped = 0;
  let run = 0;
  let prev = NaN;
  for (let i = from; i < end; i++) {
    const v = recording[i]!;
    sum += v;
    sumSq += v * v;
    const a = Math.abs(v);
    // Hard clipping at full scale, or a flat top (digital limiting below full scale).
    if (a >= clipLevel) clipped++;
    else if (a >= 0.25 && v === prev) {
      run++;
      if (run === 2) clipped += 3;
      else if (run > 2) clipped++;
    } else run = 0;
    if (v !== prev) run = 0;
    prev = v;
  }
  const count = end - from;
  const mean = sum / count;
  const rms = Math.sqrt(Math.max(0, sumSq / count - mean * mean));
  if (!(rms >= silenceRms))
    return {
      refusal: 'silence',
      reason:
        `the recording is silent (${rms > 0 ? db(rms).toFixed(0) : '−∞'} dBFS): the microphone is muted, ` +
        'unplugged or the wrong input is selected',
    };
  if (clipped / count > maxClipped)
    return {
      refusal: 'clipped',
      reason:
        `the recording is clipped (${((100 * clipped) / count).toFixed(1)} % of samples at full scale): ` +
        'lower the speaker volume or the microphone gain',
    };
  return null;
}

/**
 * The weighted cross-spectrum on the reference's band [kLo, kHi], ×2 for the analytic
 * correlation: G[k − kLo] = 2·X(k)·S*(k)·W(k) with the weighting of the module comment (SCOT with
 * 1/6-octave smoothed auto-spectra, tonal bins weighted by their own magnitude; or PHAT-β), and
 * the band's weighted centre bin. Null when the recording has nothing in the band.
 */
function weightedCrossSpectrum(
  X: Float64Array,
  ref: ReferenceSpectrum,
  half: number,
  weighting: 'scot' | 'phat',
  beta: number,
): { G: Float64Array; centroidBin: number } | null {
  const S = ref.spectrum;
  const psS = ref.smoothedPower;
  const px = new Float64Array(half);
  for (let k = 0; k < half; k++) px[k] = X[2 * k]! ** 2 + X[2 * k + 1]! ** 2;
  const pxS = smoothConstantQ(px);
  const TONAL = 10; // a bin > 10 dB above its smoothed neighbourhood counts as tonal
  const kLo = ref.kLo;
  const kHi = ref.kHi;
  const nb = kHi - kLo + 1;
  const G = new Float64Array(2 * nb); // G[k − kLo]
  let centroidNum = 0;
  let centroidDen = 0;
  for (let k = kLo; k <= kHi; k++) {
    const mask = psS[k]! / (psS[k]! + ref.lambda);
    const xr = X[2 * k]!;
    const xi = X[2 * k + 1]!;
    const sr = S[2 * k]!;
    const si = S[2 * k + 1]!;
    const cr = xr * sr + xi * si; // X·conj(S)
    const ci = xi * sr - xr * si;
    const mag = Math.sqrt(cr * cr + ci * ci);
    let w: number;
    if (weighting === 'phat') {
      w = mag > 0 ? mask / (beta === 1 ? mag : Math.pow(mag, beta)) : 0;
    } else {
      const d = Math.sqrt(Math.max(pxS[k]!, px[k]! / TONAL) * psS[k]!);
      w = d > 0 ? mask / d : 0;
    }
    G[2 * (k - kLo)] = 2 * cr * w;
    G[2 * (k - kLo) + 1] = 2 * ci * w;
    const g = mag * w;
    centroidNum += g * k;
    centroidDen += g;
  }
  if (!(centroidDen > 0)) return null;
  return { G, centroidBin: centroidNum / centroidDen };
}

/**
 * Sub-sample delay around the envelope peak `peakLag`: the real correlation's largest magnitude
 * within a quarter carrier period (`quarter` samples) gives the polarity and the integer lag, a
 * parabola through it and its neighbours the first fraction, and Newton's method on the exact
 * band-limited interpolant the rest.
 */
function refineDelay(corr: BandCorrelation, peakLag: number, quarter: number): { tau: number; polarity: 1 | -1 } {
  let realLag = peakLag;
  let best = -1;
  const reAt = new Map<number, number>();
  for (let l = peakLag - quarter - 1; l <= peakLag + quarter + 1; l++) reAt.set(l, corr.value(l));
  for (let l = peakLag - quarter; l <= peakLag + quarter; l++) {
    const v = Math.abs(reAt.get(l)!);
    if (v > best) {
      best = v;
      realLag = l;
    }
  }
  const polarity: 1 | -1 = reAt.get(realLag)! < 0 ? -1 : 1;
  const y0 = polarity * reAt.get(realLag)!;
  const ym = polarity * reAt.get(realLag - 1)!;
  const yp = polarity * reAt.get(realLag + 1)!;
  const curv = ym - 2 * y0 + yp;
  const tau = realLag + (curv < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (ym - yp)) / curv)) : 0);
  return { tau: corr.refineMaximum(tau, polarity), polarity };
}

/**
 * The band-limited analytic correlation a(τ) = (1/N)·Σ_k G[k]·e^{j2πkτ/N} over the band bins
 * [kLo, kLo + nb), evaluated directly at any real lag τ (its real part is the correlation c(τ),
 * its magnitude the envelope). O(nb) per evaluation: for a handful of lags around a peak.
 */
class BandCorrelation {
  constructor(
    private readonly G: Float64Array,
    private readonly kLo: number,
    private readonly N: number,
  ) {}

  /** Σ G[k]·e^{jωτ}·(jω)^p for p = 0, 1, 2 (unnormalized), as [re0, im0, re1, re2]. */
  private sums(tau: number, derivatives: boolean): [number, number, number, number] {
    const { G, kLo, N } = this;
    const nb = G.length / 2;
    const step = (2 * Math.PI * tau) / N;
    const rotR = Math.cos(step);
    const rotI = Math.sin(step);
    let er = 0;
    let ei = 0;
    let s0r = 0;
    let s0i = 0;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < nb; i++) {
      const k = kLo + i;
      // e^{jωk·τ} by recurrence, recomputed every 512 bins to keep rounding error negligible.
      if ((i & 511) === 0) {
        er = Math.cos(step * k);
        ei = Math.sin(step * k);
      } else {
        const t = er * rotR - ei * rotI;
        ei = er * rotI + ei * rotR;
        er = t;
      }
      const gr = G[2 * i]!;
      const gi = G[2 * i + 1]!;
      const pr = gr * er - gi * ei; // Re(G·e)
      const pi = gr * ei + gi * er; // Im(G·e)
      s0r += pr;
      s0i += pi;
      if (derivatives) {
        const w = (2 * Math.PI * k) / N;
        s1 += -w * pi; // Re(jω·G·e)
        s2 += -w * w * pr; // Re((jω)²·G·e)
      }
    }
    return [s0r, s0i, s1, s2];
  }

  /** c(τ), the real correlation. */
  value(tau: number): number {
    return this.sums(tau, false)[0] / this.N;
  }

  /** |a(τ)|, the envelope. */
  envelope(tau: number): number {
    const [r, i] = this.sums(tau, false);
    return Math.sqrt(r * r + i * i) / this.N;
  }

  /** Newton's method for the maximum of polarity·c(τ) from τ0; returns τ0 if it does not converge nearby. */
  refineMaximum(tau0: number, polarity: 1 | -1): number {
    let tau = tau0;
    for (let iter = 0; iter < 10; iter++) {
      const [, , d1raw, d2raw] = this.sums(tau, true);
      const d1 = polarity * d1raw;
      const d2 = polarity * d2raw;
      if (!(d2 < 0)) return tau0;
      const delta = -d1 / d2;
      if (!Number.isFinite(delta) || Math.abs(delta) > 1) return tau0;
      tau += delta;
      if (Math.abs(tau - tau0) > 1) return tau0;
      if (Math.abs(delta) < 1e-6) break;
    }
    return tau;
  }
}

interface ReferenceSpectrum {
  checksum: number;
  spectrum: Float64Array;
  smoothedPower: Float64Array;
  lambda: number;
  kLo: number;
  kHi: number;
}

/** Reference spectra per FFT size, cached per reference array (calibration reuses one sweep). */
const referenceCache = new WeakMap<Float32Array, Map<number, ReferenceSpectrum>>();

function checksumOf(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * (1 + (i % 13));
  return s;
}

function referenceSpectrum(reference: Float32Array, N: number, fft: FFT): ReferenceSpectrum {
  const checksum = checksumOf(reference);
  let perSize = referenceCache.get(reference);
  const cached = perSize?.get(N);
  if (cached && cached.checksum === checksum) return cached;
  const r = new Float64Array(N);
  for (let i = 0; i < reference.length; i++) r[i] = reference[i]!;
  const spectrum = new Float64Array(2 * N);
  fft.realTransform(spectrum, r);
  const half = N / 2;
  const ps = new Float64Array(half);
  for (let k = 0; k < half; k++) ps[k] = spectrum[2 * k]! ** 2 + spectrum[2 * k + 1]! ** 2;
  const smoothedPower = smoothConstantQ(ps);
  let psMax = 0;
  for (let k = 1; k < half; k++) if (smoothedPower[k]! > psMax) psMax = smoothedPower[k]!;
  if (!(psMax > 0)) throw new RangeError('reference is silent');
  // Band mask M = P̃ss/(P̃ss + λ): ≈1 where the reference has energy, → 0 outside its band (where a
  // whitening weight would otherwise give pure noise full weight). Bins with M < 1e-4 are dropped.
  const lambda = 1e-3 * psMax;
  let kLo = half;
  let kHi = 0;
  for (let k = 1; k < half; k++) {
    if (smoothedPower[k]! / (smoothedPower[k]! + lambda) >= 1e-4) {
      if (k < kLo) kLo = k;
      kHi = k;
    }
  }
  if (kHi < kLo) throw new RangeError('reference is silent');
  const entry: ReferenceSpectrum = { checksum, spectrum, smoothedPower, lambda, kLo, kHi };
  if (!perSize) {
    perSize = new Map();
    referenceCache.set(reference, perSize);
  }
  if (perSize.size > 4) perSize.clear();
  perSize.set(N, entry);
  return entry;
}

/** RMS level of x[from, to) after removing its mean, dBFS. */
function noiseLevelDbfs(x: Float32Array, from: number, to: number): number {
  let s = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    s += x[i]!;
    s2 += x[i]! * x[i]!;
  }
  const n = Math.max(1, to - from);
  return 10 * Math.log10(Math.max(0, s2 / n - (s / n) ** 2) + 1e-30);
}

function estimateSnr(
  x: Float32Array,
  segStart: number,
  segEnd: number,
  start: number,
  L: number,
  sampleRate: number,
): number {
  let mean = 0;
  for (let i = segStart; i < segEnd; i++) mean += x[i]!;
  mean /= segEnd - segStart;
  const power = (a: number, b: number) => {
    let s = 0;
    for (let i = a; i < b; i++) {
      const v = x[i]! - mean;
      s += v * v;
    }
    return s / Math.max(1, b - a);
  };
  const block = Math.round(0.02 * sampleRate);
  const guardBefore = block;
  const tail = Math.round(0.3 * sampleRate);
  const blocks: number[] = [];
  for (let b = segStart; b + block <= segEnd; b += block) {
    if (b + block > start - guardBefore && b < start + L + tail) continue;
    blocks.push(power(b, b + block));
  }
  if (blocks.length === 0) return NaN;
  blocks.sort((p, q) => p - q);
  const noise = blocks[blocks.length >> 1]!;
  const during = power(Math.max(segStart, start), Math.min(segEnd, start + L));
  const signal = Math.max(during - noise, 1e-30);
  return noise > 0 ? 10 * Math.log10(signal / noise) : 200;
}
