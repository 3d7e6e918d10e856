/**
 * The local clock as the player sync uses it: read it, wait for an instant of it, sleep. Real
 * time by default; the unit tests give a fake one to run starts and drift in fake time.
 */
import { monotonicMs } from '../../clock/monotonic.js';
import { waitUntilLocal } from '../../clock/precise-wait.js';
import type { LocalMs } from '../../clock/time.js';

export interface SyncTime {
  now(): LocalMs;
  /** Resolves at local instant `localMs` (soon when past); rejects when `signal` aborts. */
  waitUntil(localMs: LocalMs, signal?: AbortSignal): Promise<unknown>;
  /**
   * Resolves after `ms` (at once for ms ≤ 0, on the next timer turn), or as soon as `signal`
   * aborts; never rejects. A coarse timer: no spinning for precision (waitUntil does that).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const REAL_TIME: SyncTime = {
  now: monotonicMs,
  waitUntil: (localMs, signal) => waitUntilLocal(localMs, signal ? { signal } : {}),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => (clearTimeout(timer), signal?.removeEventListener('abort', done), resolve());
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};
