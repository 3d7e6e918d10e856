/**
 * FFT helpers shared by the calibration correlator and the benchmark's audio-spread analysis:
 * fft.js instances are costly to build (twiddle tables), so one is kept per size.
 */
import FFT from 'fft.js';

/** Smallest power of two ≥ n, and at least `min` (fft.js needs a power of two ≥ 4). */
export function nextPow2(n: number, min = 4): number {
  let p = min;
  while (p < n) p *= 2;
  return p;
}

const fftCache = new Map<number, FFT>();

/** An fft.js instance for `size` (a power of two); a few sizes are kept, then the cache starts over. */
export function fftOf(size: number): FFT {
  let f = fftCache.get(size);
  if (!f) {
    if (fftCache.size > 8) fftCache.clear();
    f = new FFT(size);
    fftCache.set(size, f);
  }
  return f;
}

export type { FFT };
