/**
 * The sync controller that holds the sound: turns position readings into mpv's playback `speed`.
 *
 * error e (s) = audio position − timeline position (positive: this speaker is ahead).
 *
 * The plant. With `audio-pitch-correction=no` the speed is a resampling ratio, and a new ratio
 * reaches the output only after the audio already decoded and buffered has played: measured on
 * PulseAudio (latency hacks on), the sound starts to move ~0.3 s after a step, and so does mpv's
 * `audio-pts` — no jump, the same dead time (`bench/speed-probe.ts`). So the loop is an
 * integrator behind a dead time L:  e'(t) = s(t − L) − 1 (+ the device's drift).
 * A plain PI loop on e sees its own corrections only L later, keeps correcting, and overshoots:
 * the speed swings and the sound wanders although the readings look calm.
 *
 * The loop here:
 * - Robust reading: the median of the last `medianOf` readings (a loaded machine gives outliers).
 * - Once a start transient is over, an observer: the error estimate ê moves between readings by
 *   what the controller's own speeds moved the sound (∫ (s(τ − L) − s₀) dτ, known exactly), and
 *   each reading pulls it by `observerGain` of its surprise (clamped to observerMaxSurpriseSec). Reading
 *   noise (0.15–0.2 ms per reading: the timestamp of a position read over IPC is uncertain by
 *   half its ~1 ms round trip) then reaches the speed ~1/4 as strong as through a median of three,
 *   so the speed stops wandering with it. A median beyond observerJumpSec from the estimate (an
 *   underrun, a stall) starts a new transient.
 * - Smith predictor: the controller knows what it asked for; what is still "in the pipe" is
 *   pending = ∫_{t−L'}^{t} (s(τ) − s₀) dτ, L' = L plus the median's own delay, s₀ the speed at
 *   which the device keeps time (1 − the drift learned). The predicted error
 *   e + pending is where the sound will be once the pipe has played out; the loop acts on that,
 *   so it sees a plain integrator and settles like one (time constant 1/Kp) instead of ringing.
 * - A soft deadband: |predicted error| under `deadbandSec` asks for no proportional change,
 *   beyond it only the excess does. Reading noise then stops moving the speed, the speed stays
 *   put for seconds, and the sound holds (each speed change is heard as the delay wandering).
 * - Changes smaller than `minSpeedStep` are not sent.
 * - The device's drift is fitted, not integrated (drift-fit.ts): the readings with the
 *   controller's own speeds taken out rise by the drift per second, and their slope, known to
 *   ±20 ppm after ~2 s of quiet readings, is fed forward as the speed s₀ = 1 − drift. The P loop
 *   then only removes what is left. (An integrator of the error learns 200 ppm in 10–30 s, and
 *   until then a P loop sits drift × (1/kp + L) off: 0.26 ms.) Readings join the fit only once a
 *   start transient's speeds have left the pipe (the sound moves up to ~1.5 ms more or less than
 *   a 10 ms pull implies), and every re-arm starts a new segment with its own intercept.
 *   The drift is kept across seeks and track changes: it belongs to the device.
 * - A start transient (after every re-arm) is removed at full speed: the loop uses `kpStart`
 *   until the predicted error first falls within `startBandSec`, then `kp`. With the predictor
 *   this is a bang-bang move at ±maxCorrection that stops when the correction already in the pipe
 *   covers the error (no overshoot), instead of an exponential tail with time constant 1/kp: a
 *   5 ms start error is gone in ~1.3 s instead of ~3.5 s. Once in the band the slower kp keeps
 *   reading noise from moving the speed.
 * - Errors beyond `hardSeekSec` are not chased by speed: the caller re-arms with an exact seek.
 */

import { DriftFit, type DriftFitOptions } from './drift-fit.js';

export interface SoundControllerOptions {
  /** proportional gain on the predicted error, 1/s: a residual offset decays with time constant 1/kp */
  kp: number;
  /** proportional gain during a start transient, 1/s (until the predicted error first enters startBandSec) */
  kpStart: number;
  /** the start transient ends when the predicted error is first within this, s… */
  startBandSec: number;
  /** …or after this long, s (a drift keeps a P loop off zero by drift × (1/kpStart + delay)) */
  startMaxSec: number;
  /** dead time between a speed change and its effect on audio-pts and the sound, s */
  plantDelaySec: number;
  /** readings per median */
  medianOf: number;
  /** once the start transient is over, each reading moves the error estimate by this fraction of its surprise */
  observerGain: number;
  /** the observer starts this long after a transient's speeds have left the pipe, s (median-based until then) */
  observerSettleSec: number;
  /** no single reading's surprise counts for more than this, s (a slow IPC round trip under load) */
  observerMaxSurpriseSec: number;
  /** a median this far from the estimate is a jump, not noise: a new start transient, s */
  observerJumpSec: number;
  /** no proportional action below this predicted error, s */
  deadbandSec: number;
  /** smaller speed changes than this are not sent (ratio) */
  minSpeedStep: number;
  /** speed stays within 1 ± this */
  maxCorrection: number;
  /** the drift fed forward is at most this, ratio (beyond any crystal: a fit beyond it is a fault, not a device) */
  maxDrift: number;
  /** beyond this error the caller re-arms instead, s */
  hardSeekSec: number;
  /** the drift fit (drift-fit.ts) */
  driftFit: Partial<DriftFitOptions>;
}

/** Why each value: see the module comment; measured on this project's bench (PulseAudio, mpv 0.35). */
export const DEFAULT_SOUND_CONTROLLER: SoundControllerOptions = {
  kp: 1.0, // slow enough that reading noise moves little once the start transient is over
  kpStart: 10, // a start error is removed at the ±0.5 % limit until the last 0.5 ms, then in ~0.1 s
  startBandSec: 150e-6, // about the noise of a median of three readings: closer is kp's job
  startMaxSec: 4, // 0.5 % removes 20 ms in 4 s: longer is not a start any more
  plantDelaySec: 0.3, // measured dead time (speed step → sound and audio-pts), mpv's 0.2 s buffer + output
  medianOf: 3, // one outlier in three readings (a slow IPC round trip) is ignored
  observerGain: 0.15, // averages ~12 readings (1.2 s): 0.2 ms of reading noise → ~0.055 ms in the estimate (simulated at 0.15–0.3 ms noise: the sound's p95 ½–⅘ of a median of three's)
  observerSettleSec: 1, // the remainder of a pull (≤ ~1.5 ms measured) is removed at kp from readings first
  observerMaxSurpriseSec: 0.75e-3, // ~4 × a quiet reading's noise
  observerJumpSec: 2e-3, // ~6 × the median's noise on a loaded machine (0.3 ms): an underrun or a stall, not noise
  deadbandSec: 20e-6, // below the reading noise (35–60 µs std): noise alone does not move the speed
  minSpeedStep: 2e-6, // 2 ppm for 1 s is 2 µs: not worth a change
  maxCorrection: 0.005, // ±0.5 % (8.6 cents): inaudible as pitch
  maxDrift: 0.001, // 1000 ppm: far beyond any crystal
  hardSeekSec: 0.05, // 50 ms would take 10 s at 0.5 %: seek instead
  driftFit: {},
};

export type SoundDecision = { action: 'speed'; speed: number; predictedErrorSec: number } | { action: 'hard-seek' };

export class SoundController {
  private readonly o: SoundControllerOptions;
  /** the controller's own time, s (sum of dt) */
  private t = 0;
  /**
   * speeds asked for: [from t, speed, ∫₀^{from} (s − 1) dτ], oldest first; only what the pipe can
   * still hold is kept
   */
  private speeds: [number, number, number][] = [[0, 1, 0]];
  private readonly recent: number[] = [];
  private readonly driftFit: DriftFit;
  /** the drift fed forward (the last fit good enough), ratio */
  private drift = 0;
  /**
   * readings join the drift fit from this time on (controller time, s): the first readings after a
   * start were seen 0.3–0.8 ms off the sound, and a few such at a segment's start tilt its slope
   */
  private fitFrom = 0;
  /** in a start transient: kpStart applies */
  private transient = true;
  /** when the current start transient began (controller time, s) */
  private transientFrom = 0;
  private lastSpeed = 1;
  private meanDt = 0.1;
  /** the observer's error estimate, s (null until the first reading after a re-arm) */
  private est: number | null = null;
  /** when the last start transient ended (controller time, s) */
  private transientEnd: number | null = null;

  constructor(options: Partial<SoundControllerOptions> = {}) {
    this.o = { ...DEFAULT_SOUND_CONTROLLER, ...options };
    this.driftFit = new DriftFit(this.o.driftFit);
  }

  get speed(): number {
    return this.lastSpeed;
  }

  /** The correction fed forward: the device's drift as the loop has learned it. */
  get learnedDrift(): number {
    return this.drift;
  }

  /**
   * Playback (re)starts at an instant at `speed`: the pipe is empty of old corrections, the
   * readings so far belong to the old position, and the next seconds are a start transient.
   */
  rearmed(speed = 1 - this.learnedDrift): void {
    this.recent.length = 0;
    this.speeds = [[this.t, speed, this.cumulative(this.t)]];
    this.lastSpeed = speed;
    this.driftFit.newSegment();
    this.fitFrom = this.t + this.o.plantDelaySec + this.o.observerSettleSec;
    this.transient = true;
    this.transientFrom = this.t;
    this.transientEnd = null;
    this.est = null;
  }

  /**
   * The start just armed was aligned before it was heard (a pre-rolled start: its error was
   * measured and removed on silence) and is left with `errorSec`: no start transient. The
   * observer starts from that error at once, so the first readings after the sound begins pull
   * the estimate by a fraction of their surprise instead of driving the speed at kpStart (right
   * after the player joins the silence to the track, readings were seen 0.3–0.8 ms off the sound
   * for a few tenths of a second).
   */
  aligned(errorSec: number): void {
    this.transient = false;
    this.transientEnd = this.t - this.o.plantDelaySec - this.o.observerSettleSec - 1e-9;
    this.est = errorSec;
  }

  /** Forget the learned drift too (a different device or a restarted player). */
  reset(): void {
    this.drift = 0;
    this.driftFit.clear();
    this.rearmed(1);
  }

  /**
   * ∫_{t−window}^{t} (s(τ) − s₀) dτ over the speeds asked for, s, where s₀ = 1 − learned drift
   * is the speed at which this device keeps time: only the corrections beyond it are "in the pipe".
   */
  private pending(windowSec: number): number {
    return this.speedIntegral(this.t - windowSec, this.t);
  }

  /** ∫_{from}^{to} (s(τ) − s₀) dτ over the speeds asked for (controller time, s). */
  private speedIntegral(from: number, to: number): number {
    const base = 1 - this.learnedDrift;
    let sum = 0;
    for (let i = this.speeds.length - 1; i >= 0; i--) {
      const [start, s] = this.speeds[i]!;
      const end = i + 1 < this.speeds.length ? this.speeds[i + 1]![0] : this.t;
      const a = Math.max(start, from);
      const b = Math.min(end, to);
      if (b > a) sum += (s - base) * (b - a);
      if (start <= from) break;
    }
    return sum;
  }

  /** ∫₀^{x} (s(τ) − 1) dτ over the speeds asked for (x within what is kept, controller time, s). */
  private cumulative(x: number): number {
    let i = this.speeds.length - 1;
    while (i > 0 && this.speeds[i]![0] > x) i--;
    const [from, s, cum] = this.speeds[i]!;
    return cum + (s - 1) * (x - from);
  }

  /** Forgets speeds that no window can reach any more (the dead time, the median's lag, a reading gap). */
  private prune(): void {
    const keepFrom = this.t - this.o.plantDelaySec - this.o.medianOf * this.meanDt - 1;
    let i = 0;
    while (i + 1 < this.speeds.length && this.speeds[i + 1]![0] <= keepFrom) i++;
    if (i > 0) this.speeds.splice(0, i);
  }

  /** One reading: `errorSec` measured `dtSec` after the previous one. */
  update(errorSec: number, dtSec: number): SoundDecision {
    const dt = Math.min(Math.max(dtSec, 0), 1);
    this.t += dt;
    if (dt > 0) this.meanDt += 0.1 * (dt - this.meanDt);
    this.recent.push(errorSec);
    if (this.recent.length > this.o.medianOf) this.recent.shift();
    const sorted = [...this.recent].sort((a, b) => a - b);
    const e = sorted[Math.floor(sorted.length / 2)]!;
    if (Math.abs(e) > this.o.hardSeekSec) return { action: 'hard-seek' };

    // What the sound did since the last reading by the speeds asked for a dead time ago.
    const moved = this.speedIntegral(this.t - dt - this.o.plantDelaySec, this.t - this.o.plantDelaySec);
    let predicted: number;
    // The observer takes over only once a transient's large speeds have left the pipe: the sound
    // moves a little more or less than they imply (measured: up to ~1.5 ms after a 10 ms pull), and
    // the readings, not the model, must remove that.
    const settled = this.transientEnd !== null && this.t - this.transientEnd > this.o.plantDelaySec + this.o.observerSettleSec;
    if (!this.transient && settled && this.est !== null) {
      const prior = this.est + moved;
      if (Math.abs(e - prior) > this.o.observerJumpSec) {
        // The sound jumped (an underrun, a stall): a new transient, from the reading.
        this.transient = true;
        this.transientFrom = this.t;
        this.transientEnd = null;
        this.est = errorSec;
        this.driftFit.newSegment();
      } else {
        const surprise = Math.min(this.o.observerMaxSurpriseSec, Math.max(-this.o.observerMaxSurpriseSec, errorSec - prior));
        this.est = prior + this.o.observerGain * surprise;
      }
    } else {
      this.est = errorSec;
    }
    if (!this.transient && settled) {
      predicted = this.est + this.pending(this.o.plantDelaySec);
    } else {
      // the median of n readings lags by (n − 1)/2 of them
      const lag = this.o.plantDelaySec + ((this.recent.length - 1) / 2) * this.meanDt;
      predicted = e + this.pending(lag);
    }
    if (!this.transient && settled && this.t >= this.fitFrom) {
      // The reading with the controller's own speeds taken out (they reach the sound L later).
      this.driftFit.add(this.t, errorSec - this.cumulative(this.t - this.o.plantDelaySec));
      const fit = this.driftFit.estimate();
      if (fit) this.drift = Math.min(this.o.maxDrift, Math.max(-this.o.maxDrift, fit.drift));
    }
    this.prune();

    if (this.transient && (Math.abs(predicted) < this.o.startBandSec || this.t - this.transientFrom > this.o.startMaxSec)) {
      this.transient = false;
      this.transientEnd = this.t;
    }
    const excess = Math.sign(predicted) * Math.max(0, Math.abs(predicted) - this.o.deadbandSec);
    const correction = (this.transient ? this.o.kpStart : this.o.kp) * excess + this.drift;
    const clamped = Math.min(this.o.maxCorrection, Math.max(-this.o.maxCorrection, correction));
    const speed = 1 - clamped;
    if (Math.abs(speed - this.lastSpeed) >= this.o.minSpeedStep) {
      this.lastSpeed = speed;
      this.speeds.push([this.t, speed, this.cumulative(this.t)]);
    }
    return { action: 'speed', speed: this.lastSpeed, predictedErrorSec: predicted };
  }
}
