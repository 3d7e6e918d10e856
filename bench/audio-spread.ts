/**
 * Audio-level spread: how far apart the members' sound really is, from one multi-channel
 * recording in which member i's output is channel i (see pulse-room.ts). Positions reported by
 * mpv can agree while the sound does not; this looks at the sound.
 *
 * Per window (default 1 s, hop 0.5 s) every channel is cross-correlated with channel 0 (GCC with
 * PHAT-β weighting on a Hann-windowed, zero-padded segment, so the tonal tracks' spectra are
 * flattened and the peak is as narrow as the band allows). The lag search is limited to
 * ±maxLagMs (default 20 ms): the bundled tracks repeat themselves at ~40–46 ms lags, and members
 * that have converged are within a few ms of each other. The integer peak is refined to a
 * sub-sample lag by Newton's method on the exact band-limited interpolant of the weighted
 * cross-spectrum (no upsampling, bias well under 0.01 sample).
 *
 * Sign: lagMs[i] > 0 means channel i is *late* (its sound is channel 0's sound lagMs later), so
 * member i is behind member 0 by lagMs[i]. Spread of a window = max − min over {0, lagMs[1..]}.
 */
import { fftOf, nextPow2 } from '../src/audio/fft.js';

export interface AudioSpreadOptions {
  sampleRate: number;
  /** analysis window, s (default 1) */
  windowSec?: number;
  /** hop between windows, s (default 0.5) */
  hopSec?: number;
  /** lags searched: ±this, ms (default 20) */
  maxLagMs?: number;
  /** PHAT exponent: 1 = full whitening, 0 = plain cross-correlation (default 0.8) */
  phatBeta?: number;
  /** bins below this frequency are left out (default 150 Hz) */
  highPassHz?: number;
  /** bins above this frequency are left out (default 0.45 × sample rate) */
  lowPassHz?: number;
  /** a window whose channel RMS is below this (dBFS) gives no estimate (default −60) */
  silenceDbfs?: number;
  /** a peak less than this many dB above the correlation's RMS gives no estimate (default 12) */
  minConfidenceDb?: number;
}

export interface WindowLags {
  /** centre of the window, s from the start of the recording */
  tSec: number;
  /** per channel, ms (channel 0: 0); null where no trustworthy estimate */
  lagMs: (number | null)[];
  /** per channel, peak over correlation RMS in dB (channel 0: Infinity) */
  confidenceDb: number[];
  /** per channel, normalised correlation with channel 0 at the lag found (channel 0: 1; null where no estimate) */
  coherence: (number | null)[];
  /** max − min over the channels with an estimate, or null when a channel has none */
  spreadMs: number | null;
}

/** Splits interleaved signed 16-bit little-endian PCM into channels scaled to ±1. */
export function deinterleaveS16(buf: Buffer, channels: number): Float32Array[] {
  const frames = Math.floor(buf.length / (2 * channels));
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) for (let c = 0; c < channels; c++) out[c]![i] = buf.readInt16LE(2 * (i * channels + c)) / 32768;
  return out;
}

/**
 * The band-limited correlation c(τ) = (2/N)·Σ_k Re(G[k]·e^{j2πkτ/N}) over bins [kLo, kHi], at any
 * real lag, with its first two derivatives (for Newton's method).
 */
function correlationAt(G: Float64Array, kLo: number, kHi: number, N: number, tau: number): [number, number, number] {
  let c = 0;
  let d1 = 0;
  let d2 = 0;
  const step = (2 * Math.PI * tau) / N;
  for (let k = kLo; k <= kHi; k++) {
    const ph = step * k;
    const cr = Math.cos(ph);
    const ci = Math.sin(ph);
    const gr = G[2 * k]!;
    const gi = G[2 * k + 1]!;
    const re = gr * cr - gi * ci;
    const im = gr * ci + gi * cr;
    const w = (2 * Math.PI * k) / N;
    c += re;
    d1 += -w * im;
    d2 += -w * w * re;
  }
  return [c, d1, d2];
}

/**
 * Lag of `y` against `x` (same length), ms: y(t) ≈ x(t − lag). Null when either is silent or the
 * peak is not clear. Exposed for tests; channelLags() uses it per window.
 */
export function lagBetween(
  x: Float32Array | Float64Array,
  y: Float32Array | Float64Array,
  opts: AudioSpreadOptions,
): { lagMs: number | null; confidenceDb: number; coherence: number | null } {
  const fs = opts.sampleRate;
  const n = Math.min(x.length, y.length);
  const maxLag = Math.max(1, Math.round(((opts.maxLagMs ?? 20) * fs) / 1000));
  const N = nextPow2(n + maxLag + 1, 16);
  const fft = fftOf(N);
  const silence = Math.pow(10, (opts.silenceDbfs ?? -60) / 20);
  const prep = (s: Float32Array | Float64Array): Float64Array | null => {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += s[i]!;
    mean /= n;
    const out = new Float64Array(N);
    let e = 0;
    for (let i = 0; i < n; i++) {
      const v = s[i]! - mean;
      e += v * v;
      out[i] = v * (0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n));
    }
    return Math.sqrt(e / n) >= silence ? out : null;
  };
  const xs = prep(x);
  const ys = prep(y);
  if (!xs || !ys) return { lagMs: null, confidenceDb: 0, coherence: null };
  const X = new Float64Array(2 * N);
  const Y = new Float64Array(2 * N);
  fft.realTransform(X, xs);
  fft.realTransform(Y, ys);
  const half = N / 2;
  const kLo = Math.max(1, Math.ceil(((opts.highPassHz ?? 150) * N) / fs));
  const kHi = Math.min(half - 1, Math.floor(((opts.lowPassHz ?? 0.45 * fs) * N) / fs));
  const beta = opts.phatBeta ?? 0.8;
  // G = Y·conj(X) weighted; bins far below the strongest (no content) are dropped, not whitened.
  // The unweighted product and the band's energies are kept for the coherence at the end.
  const G = new Float64Array(2 * N);
  let maxMag = 0;
  let ex = 0;
  let ey = 0;
  for (let k = kLo; k <= kHi; k++) {
    const xr = X[2 * k]!;
    const xi = X[2 * k + 1]!;
    const yr = Y[2 * k]!;
    const yi = Y[2 * k + 1]!;
    const gr = yr * xr + yi * xi;
    const gi = yi * xr - yr * xi;
    G[2 * k] = gr;
    G[2 * k + 1] = gi;
    ex += xr * xr + xi * xi;
    ey += yr * yr + yi * yi;
    const m = Math.hypot(gr, gi);
    if (m > maxMag) maxMag = m;
  }
  if (!(maxMag > 0)) return { lagMs: null, confidenceDb: 0, coherence: null };
  const raw = G.slice(0, 2 * (kHi + 1));
  const floor = maxMag * 1e-7;
  for (let k = kLo; k <= kHi; k++) {
    const m = Math.hypot(G[2 * k]!, G[2 * k + 1]!);
    const w = m > floor ? 1 / Math.pow(m, beta) : 0;
    G[2 * k]! *= w;
    G[2 * k + 1]! *= w;
  }
  for (let k = 0; k < kLo; k++) G[2 * k] = G[2 * k + 1] = 0;
  for (let k = kHi + 1; k < N; k++) G[2 * k] = G[2 * k + 1] = 0;
  // Real correlation at every integer lag: inverse FFT of the Hermitian-completed spectrum.
  const H = new Float64Array(2 * N);
  for (let k = kLo; k <= kHi; k++) {
    H[2 * k] = G[2 * k]!;
    H[2 * k + 1] = G[2 * k + 1]!;
    H[2 * (N - k)] = G[2 * k]!;
    H[2 * (N - k) + 1] = -G[2 * k + 1]!;
  }
  const c = new Float64Array(2 * N);
  fft.inverseTransform(c, H);
  const at = (lag: number): number => c[2 * ((lag + N) % N)]!;
  let best = -Infinity;
  let bestLag = 0;
  for (let l = -maxLag; l <= maxLag; l++) {
    const v = at(l);
    if (v > best) {
      best = v;
      bestLag = l;
    }
  }
  let sq = 0;
  for (let i = 0; i < N; i++) sq += c[2 * i]! ** 2;
  const rms = Math.sqrt(sq / N);
  const confidenceDb = rms > 0 ? 20 * Math.log10(best / rms) : 0;
  if (confidenceDb < (opts.minConfidenceDb ?? 12)) return { lagMs: null, confidenceDb, coherence: null };
  // A peak on the edge of the search range is probably the slope of one outside it.
  if (Math.abs(bestLag) === maxLag) return { lagMs: null, confidenceDb, coherence: null };
  // Parabolic start, then Newton on the band-limited interpolant.
  const ym = at(bestLag - 1);
  const yp = at(bestLag + 1);
  const curv = ym - 2 * best + yp;
  let tau = bestLag + (curv < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (ym - yp)) / curv)) : 0);
  const start = tau;
  for (let it = 0; it < 12; it++) {
    const [, d1, d2] = correlationAt(G, kLo, kHi, N, tau);
    if (!(d2 < 0)) {
      tau = start;
      break;
    }
    const delta = -d1 / d2;
    if (!Number.isFinite(delta) || Math.abs(delta) > 1) {
      tau = start;
      break;
    }
    tau += delta;
    if (Math.abs(delta) < 1e-7) break;
  }
  if (Math.abs(tau - bestLag) > 1) tau = start;
  // Coherence: the plain (unwhitened) band-limited correlation at the lag found, normalised by the
  // band's energies: 1 when y is x delayed; lower when y's timing moved within the window (a speed
  // change passing through), or it holds other sound.
  const [rawC] = correlationAt(raw, kLo, kHi, N, tau);
  const coherence = ex > 0 && ey > 0 ? rawC / Math.sqrt(ex * ey) : null;
  return { lagMs: (tau / fs) * 1000, confidenceDb, coherence };
}

/** Lags of every channel against channel 0, window by window. */
export function channelLags(channels: readonly (Float32Array | Float64Array)[], opts: AudioSpreadOptions): WindowLags[] {
  const fs = opts.sampleRate;
  const win = Math.round((opts.windowSec ?? 1) * fs);
  const hop = Math.max(1, Math.round((opts.hopSec ?? 0.5) * fs));
  const len = Math.min(...channels.map((c) => c.length));
  const out: WindowLags[] = [];
  for (let s = 0; s + win <= len; s += hop) {
    const ref = channels[0]!.subarray(s, s + win);
    const lagMs: (number | null)[] = [0];
    const confidenceDb: number[] = [Infinity];
    const coherence: (number | null)[] = [1];
    for (let ch = 1; ch < channels.length; ch++) {
      const r = lagBetween(ref, channels[ch]!.subarray(s, s + win), opts);
      lagMs.push(r.lagMs);
      confidenceDb.push(r.confidenceDb);
      coherence.push(r.coherence);
    }
    const known = lagMs.filter((v): v is number => v !== null);
    out.push({ tSec: (s + win / 2) / fs, lagMs, confidenceDb, coherence, spreadMs: known.length === lagMs.length ? Math.max(...known) - Math.min(...known) : null });
  }
  return out;
}

/**
 * Delays `x` by `delaySamples` (any real number, may vary: a function of the output index) with
 * a windowed-sinc interpolator (±32 taps, Blackman window). For tests and synthetic checks.
 */
export function fractionalDelay(x: Float32Array | Float64Array, delaySamples: number | ((i: number) => number), taps = 32): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const d = typeof delaySamples === 'number' ? delaySamples : delaySamples(i);
    const pos = i - d;
    const base = Math.floor(pos);
    const frac = pos - base;
    let acc = 0;
    for (let k = -taps + 1; k <= taps; k++) {
      const j = base + k;
      if (j < 0 || j >= x.length) continue;
      const t = k - frac;
      const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * t) / taps) + 0.08 * Math.cos((2 * Math.PI * t) / taps);
      acc += x[j]! * sinc * (Math.abs(t) < taps ? w : 0);
    }
    out[i] = acc;
  }
  return out;
}
