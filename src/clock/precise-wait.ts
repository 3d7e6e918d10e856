/**
 * Waiting for an instant of the local monotonic clock with sub-millisecond precision.
 *
 * A plain setTimeout fires anywhere from ~0.8 ms early to ~1 ms late. So we sleep with
 * setTimeout until about `spinMs` before the target, then block the thread in a futex wait
 * (Atomics.wait with a timeout: the kernel's high-resolution timer wakes it) until
 * `SPIN_TAIL_MS` before the target, and busy-wait on hrtime only for that tail.
 *
 * Why block rather than spin the whole last stretch: waits come in groups (every member on a
 * host starts at one instant; the players refill their outputs then too). Processes spinning at
 * once compete for the cores, and a waiter that is not running when its instant comes wakes
 * late by up to a scheduler slice. Measured with three waiters at nice −10 hitting the same
 * instants every 97 ms, two busy processes at nice 0 beside them, 300 instants each, on two
 * cores: spinning the last 3 ms woke late by p90 0.85–3.6 ms, p95 3.1–3.8 ms; blocking then
 * spinning 0.2 ms by p90 0.12–0.17, p95 0.15–0.25 ms. A blocked waiter uses no CPU and, woken
 * by its timer, preempts lower-priority work at once. Unloaded, the two are alike (p95 ~0.3–0.5).
 *
 * The thread (and so the event loop) is held for at most spinMs + 1 ms, as with a spin, and only
 * when the timer fires on time; a late timer (busy loop) just shortens or skips the wait.
 * setTimeout treats delays above 2^31−1 ms (~24.8 days) as 1 ms, so long waits are chained.
 */
import { monotonicMs } from './monotonic.js';

/** Longest delay setTimeout honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The last stretch before the target that is spun rather than blocked, ms: covers the futex
 * timeout's slack (50 µs by default for a normal thread) and the wake-up itself.
 */
const SPIN_TAIL_MS = 0.2;

/** The futex the blocking wait sleeps on; nothing ever wakes it, so only its timeout ends a wait. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export interface WaitUntilLocalOptions {
  /** How long before the target the timer hands over to the blocking wait and spin (default 3 ms). */
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
      const blockMs = localMs - monotonicMs() - SPIN_TAIL_MS;
      if (blockMs > 0) Atomics.wait(sleeper, 0, 0, blockMs);
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
