/**
 * Which position readings to trust. A reading's timestamp is the midpoint of its request's
 * round trip, so it is off by up to half the round trip. 1 ms is the limit on a quiet machine;
 * on a loaded one most round trips grow, and discarding nearly every reading would blind the
 * controller, so the limit follows a multiple of the recent median round trip, within
 * [gateMinMs, gateMaxMs]. A fixed limit (maxReadingRttMs) replaces the rule.
 */
import type { SyncTunables } from './tunables.js';

export class ReadingGate {
  private readonly recentRttsMs: number[] = [];

  constructor(
    private readonly t: Pick<SyncTunables, 'gateWindow' | 'gateMedianFactor' | 'gateMinMs' | 'gateMaxMs'>,
    private readonly fixedLimitMs?: number,
  ) {}

  /** Records the reading's round trip and says whether the reading may be used. */
  accepts(rttMs: number): boolean {
    return rttMs <= this.limitMs(rttMs);
  }

  private limitMs(rttMs: number): number {
    this.recentRttsMs.push(rttMs);
    if (this.recentRttsMs.length > this.t.gateWindow) this.recentRttsMs.shift();
    if (this.fixedLimitMs !== undefined) return this.fixedLimitMs;
    const sorted = [...this.recentRttsMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    return Math.min(this.t.gateMaxMs, Math.max(this.t.gateMinMs, this.t.gateMedianFactor * median));
  }
}
