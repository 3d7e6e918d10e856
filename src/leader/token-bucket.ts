/**
 * A token bucket shared by every transfer the leader serves, so that all members together stay
 * under one byte rate. `take(n)` spends n tokens now (the balance may go negative: debt) and says
 * how long to wait before sending them, so callers pace themselves in order of arrival.
 * `tryTake()` is the refusing kind: it bounds how often one peer may ask for something.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { monotonicMs } from '../clock/monotonic.js';

export class TokenBucket {
  private tokens: number;
  private lastMs: number = monotonicMs();

  /** `rate` bytes per second; at most `burst` bytes go out back to back after an idle spell. */
  constructor(
    readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = monotonicMs,
  ) {
    this.tokens = burst;
    this.lastMs = now();
  }

  /** Spends `n` tokens; returns the ms to wait before sending them (0: now). */
  take(n: number): number {
    if (!Number.isFinite(this.rate) || this.rate <= 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) / 1000) * this.rate);
    this.lastMs = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Spends `n` tokens only if they are there (no debt): false means refuse or drop the event. */
  tryTake(n = 1): boolean {
    if (!Number.isFinite(this.rate) || this.rate <= 0) return true;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) / 1000) * this.rate);
    this.lastMs = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/** Passes bytes through at the bucket's pace. */
export function throttle(bucket: TokenBucket): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      const waitMs = bucket.take(chunk.length);
      if (waitMs <= 0) done(null, chunk);
      else setTimeout(() => done(null, chunk), waitMs);
    },
  });
}
