/**
 * How much before its instant an unpause is sent so that the first sample leaves on time.
 * The player's restart latency and the output's start-up make an unpause take effect late; the
 * first reading after each start shows by how much (its error), and the lead moves by that: the
 * first start sets it outright, later ones by a fraction (leadGain), so one noisy start does not
 * throw it off. Errors too large to be start latency (leadMaxErrorMs) teach nothing.
 */
import type { SyncTunables } from './tunables.js';

export class StartLead {
  private leadMs = 0;
  private awaitingFirstReading = false;
  private startsMeasured = 0;

  constructor(private readonly t: Pick<SyncTunables, 'leadMaxErrorMs' | 'leadMaxMs' | 'leadGain'>) {}

  /** The current lead, ms. */
  get ms(): number {
    return this.leadMs;
  }

  /** The player was just unpaused at an instant: the next reading's error is the start's. */
  started(): void {
    this.awaitingFirstReading = true;
  }

  /** A start that teaches nothing (an aligned one) replaced the last: its reading is not awaited any more. */
  forget(): void {
    this.awaitingFirstReading = false;
  }

  /** The error of an accepted reading, ms (positive: ahead); only the first after a start counts. */
  observe(errorMs: number): void {
    if (!this.awaitingFirstReading) return;
    this.awaitingFirstReading = false;
    if (Math.abs(errorMs) < this.t.leadMaxErrorMs) {
      const gain = this.startsMeasured === 0 ? 1 : this.t.leadGain;
      this.leadMs = Math.min(this.t.leadMaxMs, Math.max(0, this.leadMs - gain * errorMs));
      this.startsMeasured += 1;
    }
  }
}
