/**
 * When a member tries its leader again after a connection ends.
 *
 * A member that was in the party and lost its leader (a crash, a service restart, a Wi-Fi drop)
 * retries at a steady, jittered ~1 s for a while: a restarted leader listens about a second after
 * it was killed, and an exponential backoff from 0.5 s would by then be waiting 4–8 s between
 * tries. After that window, or for a member that never got in (no leader there, wrong secret), the
 * wait doubles up to a ceiling. Every wait is jittered so that many members coming back to one
 * leader spread their handshakes out rather than arrive together.
 */

export interface ReconnectTunables {
  /** First retry after a joined connection ends, ms: the leader may be back at once (a dropped connection, not a dead process). */
  firstRetryMs: number;
  /** Then a try this often while the loss is recent, ms: a restarted leader is listening ~1 s after it died. */
  fastRetryMs: number;
  /** How long after the loss the fast tries go on, ms: a service restart is over by then; longer is an outage. */
  fastWindowMs: number;
  /** The backoff when not in the fast window starts here, ms… */
  minMs: number;
  /** …doubles with every failed try, up to this, ms: an absent leader costs a connection attempt per 10 s. */
  maxMs: number;
  /** A fast try's wait is drawn from ±this fraction around its nominal value, so members returning to a restarted leader do not arrive together. */
  fastJitter: number;
  /** The backoff's waits vary by ±this fraction (a ceiling of 10 s stays about 10 s). */
  backoffJitter: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectTunables> = Object.freeze({
  firstRetryMs: 200,
  fastRetryMs: 1000,
  fastWindowMs: 30_000,
  minMs: 500,
  maxMs: 10_000,
  fastJitter: 0.5,
  backoffJitter: 0.2,
});

export class ReconnectBackoff {
  private readonly t: ReconnectTunables;
  /** local ms when a joined connection was lost (null: not in the fast window) */
  private lostAtMs: number | null = null;
  private triesSinceLoss = 0;
  private backoffMs: number;

  constructor(
    tunables: Partial<ReconnectTunables> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.t = { ...DEFAULT_RECONNECT, ...tunables };
    this.backoffMs = this.t.minMs;
  }

  /** The connection reached the party (welcomed): the next loss starts a fast window. */
  joined(): void {
    this.backoffMs = this.t.minMs;
    this.lostAtMs = null;
  }

  /** A joined connection ended at `nowMs` (local monotonic). */
  lost(nowMs: number): void {
    this.lostAtMs = nowMs;
    this.triesSinceLoss = 0;
  }

  /** How long to wait before the next try, ms, given that a try (or the connection) just ended at `nowMs`. */
  nextDelayMs(nowMs: number): number {
    if (this.lostAtMs !== null && nowMs - this.lostAtMs < this.t.fastWindowMs) {
      const nominal = this.triesSinceLoss === 0 ? this.t.firstRetryMs : this.t.fastRetryMs;
      this.triesSinceLoss += 1;
      return this.jittered(nominal, this.t.fastJitter);
    }
    this.lostAtMs = null;
    const nominal = this.backoffMs;
    this.backoffMs = Math.min(this.t.maxMs, this.backoffMs * 2);
    return this.jittered(nominal, this.t.backoffJitter);
  }

  private jittered(ms: number, fraction: number): number {
    return ms * (1 - fraction + 2 * fraction * this.random());
  }
}
