/**
 * Which position readings to trust. A reading's timestamp is placed where in its request's round
 * trip mpv usually reads the value (mpv/ipc-client.ts), so it is off by up to most of the round
 * trip. 1 ms is the limit on a quiet machine; on a loaded one most round trips grow, and
 * discarding nearly every reading would blind the controller, so the limit follows a multiple of
 * the recent median round trip, within
 * [gateMinMs, gateMaxMs]. A fixed limit (maxReadingRttMs) replaces the rule.
 * It runs on every reading (10 a second): the window is a ring and the median is selected in a
 * reused buffer, so it allocates nothing.
 */
import type { SyncTunables } from './tunables.js';

export class ReadingGate {
  /** the last gateWindow round trips, a ring: `count` of them, the next written at `next` */
  private readonly recentRttsMs: Float64Array;
  private readonly scratch: Float64Array;
  private count = 0;
  private next = 0;

  constructor(
    private readonly t: Pick<SyncTunables, 'gateWindow' | 'gateMedianFactor' | 'gateMinMs' | 'gateMaxMs'>,
    private readonly fixedLimitMs?: number,
  ) {
    this.recentRttsMs = new Float64Array(Math.max(1, t.gateWindow));
    this.scratch = new Float64Array(this.recentRttsMs.length);
  }

  /** Records the reading's round trip and says whether the reading may be used. */
  accepts(rttMs: number): boolean {
    return rttMs <= this.limitMs(rttMs);
  }

  private limitMs(rttMs: number): number {
    this.recentRttsMs[this.next] = rttMs;
    this.next = (this.next + 1) % this.recentRttsMs.length;
    this.count = Math.min(this.count + 1, this.recentRttsMs.length);
    if (this.fixedLimitMs !== undefined) return this.fixedLimitMs;
    for (let i = 0; i < this.count; i++) this.scratch[i] = this.recentRttsMs[i]!;
    const median = kthSmallest(this.scratch, this.count, Math.floor(this.count / 2));
    return Math.min(this.t.gateMaxMs, Math.max(this.t.gateMinMs, this.t.gateMedianFactor * median));
  }
}

/** The k-th smallest (0-based) of a[0..n), reordering a in place (insertion sort: n is tens). */
function kthSmallest(a: Float64Array, n: number, k: number): number {
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
  return a[k]!;
}
