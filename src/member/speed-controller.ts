/**
 * The sync controller: turns a measured position error into mpv's playback `speed`.
 *
 * error e (s) = audio position − timeline position (positive: this speaker is ahead).
 * Small errors are removed by resampling slightly slower or faster (a PI loop):
 *
 *     speed = 1 − (Kp·e + Ki·∫e dt),   clamped to 1 ± maxCorrection
 *
 * The P term removes a start or seek offset with time constant 1/Kp; a P-only loop would leave
 * a steady error of drift/Kp (a crystal 100 ppm fast, Kp 1/s → 0.1 ms), so the I term learns the
 * device's drift and holds it at zero error. The integrator only runs once the start transient
 * is over (`integrateAfterSec`), or it would wind up on the start offset and overshoot. It keeps
 * what it learned across seeks and track changes: drift belongs to the device, not the track.
 * Errors above `hardSeekSec` are not chased by speed (at 0.5 % it would take seconds per 10 ms):
 * the caller re-arms with an exact seek at a future instant.
 */

export interface SpeedControllerOptions {
  kp: number; // 1/s
  ki: number; // 1/s²
  maxCorrection: number; // fraction, 0.005 = ±0.5 %
  hardSeekSec: number;
  integrateAfterSec: number;
  /** the integrator alone may hold at most this correction (anti-windup) */
  maxIntegralCorrection: number;
}

export const DEFAULT_SPEED_CONTROLLER: SpeedControllerOptions = {
  kp: 1.0,
  ki: 0.3,
  maxCorrection: 0.005,
  hardSeekSec: 0.05,
  integrateAfterSec: 3,
  maxIntegralCorrection: 0.001,
};

export type ControllerDecision = { action: 'speed'; speed: number } | { action: 'hard-seek' };

export class SpeedController {
  private integral = 0; // ∫e dt, s²
  private sinceArmSec = 0;
  private lastSpeed = 1;

  constructor(readonly opts: SpeedControllerOptions = DEFAULT_SPEED_CONTROLLER) {}

  /** Call when playback (re)starts at an instant: the next seconds are a start transient. */
  rearmed(): void {
    this.sinceArmSec = 0;
  }

  /** Forget the learned drift too (a different device or a restarted player). */
  reset(): void {
    this.integral = 0;
    this.sinceArmSec = 0;
    this.lastSpeed = 1;
  }

  get speed(): number {
    return this.lastSpeed;
  }

  /** The correction the integrator holds: the device's drift as the loop has learned it. */
  get learnedDrift(): number {
    return this.opts.ki * this.integral;
  }

  update(errorSec: number, dtSec: number): ControllerDecision {
    if (Math.abs(errorSec) > this.opts.hardSeekSec) return { action: 'hard-seek' };
    const dt = Math.min(Math.max(dtSec, 0), 1);
    this.sinceArmSec += dt;
    if (this.sinceArmSec >= this.opts.integrateAfterSec && this.opts.ki > 0) {
      const limit = this.opts.maxIntegralCorrection / this.opts.ki;
      this.integral = Math.min(limit, Math.max(-limit, this.integral + errorSec * dt));
    }
    const correction = this.opts.kp * errorSec + this.opts.ki * this.integral;
    const clamped = Math.min(this.opts.maxCorrection, Math.max(-this.opts.maxCorrection, correction));
    this.lastSpeed = 1 - clamped;
    return { action: 'speed', speed: this.lastSpeed };
  }
}
