/**
 * Some outputs take sound in fixed blocks on a steady grid: PulseAudio's null and remap sinks mix
 * a block (10 ms here) each time their timer fires, so a stream unpaused anywhere inside a block is
 * first heard at the next block's edge. Two members unpaused 1 ms apart across an edge start a
 * whole block apart, and the controller then needs seconds at its speed limit to pull that in.
 *
 * This learns the grid from starts (the probe's and real ones): each start gives the instant the
 * unpause was sent (u) and the instant its first sample was heard, as the first reading shows it
 * (the onset). If onsets fall on one grid — onset mod blockMs within `toleranceMs` of one phase —
 * a start is planned on it:
 *   - the onset is the grid edge s nearest the instant T (never before it when the position is 0),
 *   - the player is armed at the position the timeline has at s, not at T (so the first sample
 *     heard at s is the right one: the shift is < one block),
 *   - the unpause is sent so that it is caught by that edge: onset = first edge at or after u + d,
 *     where d (send-to-output delay) is bounded by every start seen: onset − u lies in
 *     [d, d + block), so d > max(onset − u) − block. u + that lowest d is aimed just after the edge
 *     before s (by blockEarlyMarginMs); a start may then be up to (the spread of the delays seen −
 *     that margin) slower than the fastest seen and still be caught by s. Jitter is late-sided
 *     (a busy CPU, the first start after a load), so the margin is put there.
 * Outputs without such a grid (hardware sinks on timer scheduling, a null audio output) never show
 * one, and starts stay as before (unpaused at T minus the learned lead).
 */
import type { SyncTunables } from './tunables.js';

type BlockTunables = Pick<SyncTunables, 'outputBlockMs' | 'blockToleranceMs' | 'blockMinDelayRangeMs' | 'blockEarlyMarginMs' | 'blockWindow' | 'blockMinStarts'>;

interface Start {
  unpauseMs: number;
  onsetMs: number;
}

export interface StartPlan {
  /** the local instant the first sample will be heard (a grid edge), ms */
  onsetMs: number;
  /** the position to arm at: the timeline's at the onset, s */
  positionSec: number;
  /** the local instant to send the unpause, ms */
  unpauseMs: number;
}

export class OutputBlocks {
  private starts: Start[] = [];
  /** consecutive starts off the grid: two in a row mean the grid moved (the sink restarted) */
  private misses: Start[] = [];
  /** the delays (onset − unpause) of the recent starts, kept or not, ms (slow ones left out) */
  private recentDelays: number[] = [];
  /** sent this much earlier than the learned delays say, ms: grows when planned starts land a block late */
  private extraLeadMs = 0;

  constructor(private readonly t: BlockTunables) {}

  /** The grid phase (onset mod block, ms) when the starts agree on one, else null. */
  phaseMs(): number | null {
    if (this.starts.length < this.t.blockMinStarts) return null;
    // Evidence of blocks, not chance: the starts' delays (onset − unpause) must differ by a good
    // part of a block while their onsets agree. On an output without a grid the delay is nearly
    // constant and the onsets follow the unpauses' random phases.
    const delays = this.delays();
    if (Math.max(...delays) - Math.min(...delays) < this.t.blockMinDelayRangeMs) return null;
    return this.phaseOf(this.starts);
  }

  /**
   * Whether more starts could still show a grid: the starts seen so far have delays that differ
   * by a good part of a block (the sign of one) but do not yet agree on a phase — readings timed
   * on a busy host put an onset off its edge, and such a start is dropped only once later ones agree.
   */
  undecided(): boolean {
    if (this.phaseMs() !== null) return false;
    const d = this.recentDelays;
    return d.length >= 2 && Math.max(...d) - Math.min(...d) >= this.t.blockMinDelayRangeMs;
  }

  private phaseOf(starts: readonly Start[]): number | null {
    const p = this.t.outputBlockMs;
    // Circular mean of the onsets' phases; then every one must be within the tolerance of it.
    let c = 0;
    let s = 0;
    for (const x of starts) {
      const a = (2 * Math.PI * x.onsetMs) / p;
      c += Math.cos(a);
      s += Math.sin(a);
    }
    const phase = ((((Math.atan2(s, c) / (2 * Math.PI)) * p) % p) + p) % p;
    for (const x of starts) if (Math.abs(this.residual(x.onsetMs, phase)) > this.t.blockToleranceMs) return null;
    return phase;
  }

  /**
   * The starts' delays (onset − unpause), ms. Slower starts only ever add delay (a busy CPU, the
   * first start after a load): one more than a block over the fastest says nothing of the grid and
   * is left out.
   */
  private delays(): number[] {
    const all = this.starts.map((x) => x.onsetMs - x.unpauseMs);
    const fastest = Math.min(...all);
    return all.filter((d) => d < fastest + this.t.outputBlockMs);
  }

  /** onset − the nearest grid edge, ms, in [−block/2, block/2) */
  private residual(onsetMs: number, phaseMs: number): number {
    const p = this.t.outputBlockMs;
    const r = (((onsetMs - phaseMs) % p) + p) % p;
    return r >= p / 2 ? r - p : r;
  }

  /** A start: the unpause was sent at `unpauseMs` and its first sample was heard at `onsetMs` (local ms). */
  observe(unpauseMs: number, onsetMs: number): void {
    if (!Number.isFinite(unpauseMs) || !Number.isFinite(onsetMs)) return;
    const start = { unpauseMs, onsetMs };
    this.recentDelays.push(onsetMs - unpauseMs);
    this.recentDelays = this.recentDelays.slice(-this.t.blockWindow);
    const fastest = Math.min(...this.recentDelays);
    this.recentDelays = this.recentDelays.filter((d) => d < fastest + this.t.outputBlockMs);
    const phase = this.starts.length ? this.phaseOf(this.starts) : null;
    if (phase === null) {
      // Nothing learned yet (or the kept starts no longer agree): begin again from this one.
      this.starts = [start];
      this.misses = [];
    } else if (Math.abs(this.residual(onsetMs, phase)) <= this.t.blockToleranceMs) {
      this.starts.push(start);
      this.misses = [];
    } else {
      // Off the grid: one such start is noise and is dropped; two in a row that agree with each
      // other are a new grid (the output restarted) and replace the old one.
      this.misses.push(start);
      if (this.misses.length >= 2) {
        const lastTwo = this.misses.slice(-2);
        if (this.phaseOf(lastTwo) !== null) {
          this.starts = lastTwo;
          this.misses = [];
        } else {
          this.misses = this.misses.slice(-1);
        }
      }
    }
    if (this.starts.length > this.t.blockWindow) this.starts.splice(0, this.starts.length - this.t.blockWindow);
  }

  /**
   * How a planned start came out (its first reading's error, ms; positive: ahead). A kind of
   * start whose delay is longer than the probe's (a seek while loaded, a first start after a
   * load) lands a whole block late: the next is sent a quarter block earlier (a block early: later).
   */
  plannedOutcome(errorMs: number): void {
    const p = this.t.outputBlockMs;
    if (errorMs < -p / 2) this.extraLeadMs = Math.min(p / 2, this.extraLeadMs + p / 4);
    else if (errorMs > p / 2) this.extraLeadMs = Math.max(-p / 2, this.extraLeadMs - p / 4);
  }

  /**
   * Plans a start at local instant `instantMs` from `positionSec` (the timeline's position there),
   * or null when the output has shown no grid.
   */
  plan(instantMs: number, positionSec: number): StartPlan | null {
    const phase = this.phaseMs();
    if (phase === null) return null;
    const p = this.t.outputBlockMs;
    // The edge nearest the instant; the next one when the nearest is before a position-0 start.
    let onset = instantMs - this.residual(instantMs, phase);
    if (positionSec + (onset - instantMs) / 1000 < 0) onset += p;
    // d, the send-to-output delay: a start sent at u is heard at the first edge ≥ u + d, so
    // d ≤ onset − u < d + block for every start.
    const lo = Math.max(...this.delays()) - p; // d is at least this
    // Aim u + lo just after the edge before s (see the module comment).
    const unpause = onset - p - lo + this.t.blockEarlyMarginMs - this.extraLeadMs;
    return { onsetMs: onset, positionSec: positionSec + (onset - instantMs) / 1000, unpauseMs: unpause };
  }
}
