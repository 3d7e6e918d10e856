/**
 * A mapping between this process's monotonic clock ("local") and the shared clock: the
 * leader-offset estimator and the NTP clock both provide it, and the player follows either.
 */
export interface ClockMapping {
  toShared(localMs: number): number;
  toLocal(sharedMs: number): number;
  readonly offsetMs: number;
  readonly skewPpm: number;
  readonly rttMs: number;
  readonly isReady: boolean;
}
