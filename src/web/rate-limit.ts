/**
 * A token bucket per client address: `burst` requests at once, refilled at `perSec`. At most
 * `maxClients` buckets are kept (a Map in insertion order; the least recently seen goes first),
 * so a flood from many addresses costs bounded memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSec: number,
    private readonly maxClients: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    this.buckets.delete(key);
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSec);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    return ok;
  }

  get size(): number {
    return this.buckets.size;
  }
}
