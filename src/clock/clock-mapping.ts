/**
 * A mapping between this process's monotonic clock ("local") and the shared clock: the
 * leader-offset estimator and the NTP clock both provide it, and the player follows either.
 */
import type { LocalMs, SharedMs } from './time.js';

export interface ClockMapping {
  toShared(localMs: LocalMs): SharedMs;
  toLocal(sharedMs: SharedMs): LocalMs;
  readonly offsetMs: number;
  readonly skewPpm: number;
  readonly rttMs: number;
  readonly isReady: boolean;
}
