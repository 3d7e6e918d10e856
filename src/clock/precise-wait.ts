/**
 * Waiting for an instant of the local monotonic clock with sub-millisecond precision.
 *
 * A plain setTimeout fires anywhere from ~0.8 ms early to ~1 ms late. So we sleep with
 * setTimeout until about `spinMs` before the target, then busy-wait on hrtime for the rest.
 * The synchronous spin blocks the event loop for at most spinMs + 1 ms, and only when the timer
 * fires on time; a late timer (busy loop) just shortens or skips the spin.
 * setTimeout treats delays above 2^31−1 ms (~24.8 days) as 1 ms, so long waits are chained.
 */
import { monotonicMs } from './monotonic.js';

/** Longest delay setTimeout honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface WaitUntilLocalOptions {
  /** How long before the target the timer hands over to the busy-wait (default 3 ms). */
  spinMs?: number;
  /** Aborting rejects the promise at once with signal.reason. */
  signal?: AbortSignal;
}

/**
 * Resolves at local monotonic time `localMs` (as read by monotonicMs()) with the time it actually
 * fired, which is never before the target. A target in the past resolves on the next tick.
 */
export function waitUntilLocal(localMs: number, opts: WaitUntilLocalOptions = {}): Promise<number> {
  const spinMs = Math.max(0, opts.spinMs ?? 3);
  const { signal } = opts;
  return new Promise<number>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      clearImmediate(immediate);
      reject(abortReason(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const step = (): void => {
      const sleepMs = localMs - monotonicMs() - spinMs;
      // Re-arm only for at least 1 ms: setTimeout cannot do less, and the spin absorbs the rest.
      if (sleepMs >= 1) {
        timer = setTimeout(step, Math.min(sleepMs, MAX_TIMEOUT_MS));
        return;
      }
      signal?.removeEventListener('abort', onAbort);
      let now = monotonicMs();
      while (now < localMs) now = monotonicMs();
      resolve(now);
    };
    // Start asynchronously so the caller never gets a synchronous spin inside its own call.
    immediate = setImmediate(step);
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
