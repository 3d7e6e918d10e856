/**
 * The device's drift, fitted from the error it would have had without the controller's speeds.
 *
 * A device that plays (1 + d) s of audio per second at speed 1 moves the error by
 *   e'(t) = s(t − L)·(1 + d) − 1,
 * so u(t) = e(t) − ∫₀^{t−L} (s(τ) − 1) dτ — the error with the controller's own corrections taken
 * out — grows as u'(t) = s·d ≈ d/(1 + d): a straight line whose slope is the speed correction that
 * holds this device on time. A least-squares slope over n readings spread over T seconds, each
 * uncertain by σ, is uncertain by σ·√(12 / (n·T²)): 50 µs readings at 10/s give ±19 ppm after
 * 2 s and ±2 ppm after 10 s. An integrator of the error (a PI loop) needs ~10 × its time constant
 * (10–30 s) to learn the same drift, and while it learns, a P loop sits off by d × (1/kp + L).
 *
 * Every re-arm (a seek, a new track, a jump in the sound) moves u by a step that has nothing to do
 * with the drift, so the readings come in segments: each has its own intercept, all share the
 * slope (a pooled, within-segment regression). Readings older than `windowSec` are dropped, so a
 * drift that wanders with temperature, or a clock estimate whose skew is still settling, is
 * followed within that window.
 */
import { median } from '../math/median.js';

export interface DriftFitOptions {
  /** readings older than this are forgotten, s */
  windowSec: number;
  /** the slope is used once its standard error is at most this (a ratio, 20e-6 = 20 ppm) */
  maxStdError: number;
  /**
   * after a first fit, readings whose residual is beyond this many robust standard deviations
   * (1.4826 × the median absolute deviation) from the median residual are left out of a second one
   */
  outlierSigmas: number;
  /** at most this many readings are held (bounds memory and the fit's cost whatever the reading rate) */
  maxReadings: number;
}

export const DEFAULT_DRIFT_FIT: Readonly<DriftFitOptions> = Object.freeze({
  windowSec: 30, // 300 readings: ±1 ppm at 50 µs each; a temperature drift of a few ppm a minute is followed
  maxStdError: 20e-6, // 20 ppm held for the loop's ~1.3 s is a 26 µs offset, which the P loop removes: ~2 s of quiet readings
  outlierSigmas: 4, // a slow reading under load, not the noise
  maxReadings: 600, // 60 s at 10 readings/s
});

interface Point {
  segment: number;
  t: number;
  u: number;
}

export interface DriftEstimate {
  /** the speed correction that holds the device on time (positive: it runs fast), ratio */
  drift: number;
  /** its standard error, ratio */
  stdError: number;
  /** readings it was fitted on */
  n: number;
}

export class DriftFit {
  private readonly o: DriftFitOptions;
  private points: Point[] = [];
  private segment = 0;

  constructor(options: Partial<DriftFitOptions> = {}) {
    this.o = { ...DEFAULT_DRIFT_FIT, ...options };
  }

  /** Readings held. */
  get size(): number {
    return this.points.length;
  }

  /** The readings from here on have a new intercept (playback was re-armed or the sound jumped). */
  newSegment(): void {
    this.segment++;
  }

  /** Forget everything (a different device or a restarted player). */
  clear(): void {
    this.points = [];
    this.segment++;
  }

  /** One reading: u (s) at time t (s, the controller's clock). */
  add(t: number, u: number): void {
    if (!Number.isFinite(t) || !Number.isFinite(u)) return;
    this.points.push({ segment: this.segment, t, u });
    const from = t - this.o.windowSec;
    let drop = 0;
    while (drop < this.points.length && (this.points[drop]!.t < from || this.points.length - drop > this.o.maxReadings)) drop++;
    if (drop > 0) this.points.splice(0, drop);
  }

  /** The slope of u over the readings held, once it is known well enough (null before). */
  estimate(): DriftEstimate | null {
    const first = this.fit(this.points);
    if (!first) return null;
    // A few readings far off pull a least-squares line toward them and inflate its σ, so they are
    // judged against the median and MAD of the residuals, which they cannot move.
    const residuals = this.points.map(first.residual);
    const mid = median(residuals);
    const limit = this.o.outlierSigmas * 1.4826 * median(residuals.map((r) => Math.abs(r - mid)));
    const kept = limit > 0 ? this.points.filter((_, i) => Math.abs(residuals[i]! - mid) <= limit) : this.points;
    const second = kept.length < this.points.length ? (this.fit(kept) ?? first) : first;
    if (second.stdError > this.o.maxStdError) return null;
    return { drift: second.slope, stdError: second.stdError, n: second.n };
  }

  /**
   * Least squares with one intercept per segment and a common slope:
   *   slope = Σ (t − t̄ₛ)(u − ūₛ) / Σ (t − t̄ₛ)²,
   * residual variance over n − segments − 1 degrees of freedom, slope's standard error σ/√Sxx.
   */
  private fit(points: Point[]): { slope: number; stdError: number; n: number; residual: (p: Point) => number } | null {
    const sums = new Map<number, { n: number; t: number; u: number }>();
    for (const p of points) {
      const s = sums.get(p.segment) ?? { n: 0, t: 0, u: 0 };
      s.n++;
      s.t += p.t;
      s.u += p.u;
      sums.set(p.segment, s);
    }
    const dof = points.length - sums.size - 1;
    if (dof < 3) return null;
    const mean = (p: Point): { t: number; u: number } => {
      const s = sums.get(p.segment)!;
      return { t: s.t / s.n, u: s.u / s.n };
    };
    let sxx = 0;
    let sxy = 0;
    for (const p of points) {
      const m = mean(p);
      sxx += (p.t - m.t) ** 2;
      sxy += (p.t - m.t) * (p.u - m.u);
    }
    if (!(sxx > 0)) return null;
    const slope = sxy / sxx;
    const residual = (p: Point): number => {
      const m = mean(p);
      return p.u - m.u - slope * (p.t - m.t);
    };
    let ss = 0;
    for (const p of points) ss += residual(p) ** 2;
    const sigma = Math.sqrt(ss / dof);
    return { slope, stdError: sigma / Math.sqrt(sxx), n: points.length, residual };
  }
}
