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
 *   - the unpause is sent so that it is caught by that edge. A start whose sound is ready at
 *     u + d (d: the send-to-output delay) is heard at the first edge ≥ u + d, so it is caught by s
 *     when u + d lies in (s − block, s].
 * The delay d is learned from starts whose unpause fell at a random phase of the grid (the probe's,
 * and starts made before the grid was known): each shows D = onset − u, with d ≤ D < d + block,
 * so d lies in (max D − block, min D]. The middle of that range, (max D + min D − block) / 2,
 * is the estimate: with a steady d both ends are a block/(n + 1) inside on average (n starts), and
 * with few starts (the range is then wide) the middle errs least either way; one bound alone put
 * a start with the delay at the range's other end a block off. A start a block or more slower than
 * the fastest says nothing of the grid and is left out, as is one whose onset is off the grid (a
 * misstamped reading). Planned starts are not random phases (their D is chosen) and do not feed
 * the estimate: they would ratchet it. The unpause is sent so that u + d lands
 * `blockEarlyToleranceMs` after the edge before s: a start up to that much faster than the
 * estimate, or up to (block − that) slower, is still caught by s. Jitter is late-sided (a busy CPU,
 * a late timer, three players starting at once on one host), so most of the block is put there.
 * Outputs without such a grid (hardware sinks on timer scheduling, a null audio output) never show
 * one, and starts stay as before (unpaused at T minus the learned lead).
 */
import type { SyncTunables } from './tunables.js';

type BlockTunables = Pick<SyncTunables, 'outputBlockMs' | 'blockToleranceMs' | 'blockMinDelayRangeMs' | 'blockEarlyToleranceMs' | 'blockWindow' | 'blockMinStarts'>;

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
  /** the recent starts whose unpause fell at a random phase of the grid (not planned) */
  private randomStarts: Start[] = [];
  /** sent this much earlier than the learned delay says, ms: moved when planned starts land a block off twice in a row */
  private extraLeadMs = 0;
  /** the last planned start's miss: −1 a block late, +1 a block early, 0 on its edge */
  private lastMiss: -1 | 0 | 1 = 0;

  constructor(private readonly t: BlockTunables) {}

  /** The grid phase (onset mod block, ms) when the starts agree on one, else null. */
  phaseMs(): number | null {
    if (this.starts.length < this.t.blockMinStarts) return null;
    // Evidence of blocks, not chance: the starts' delays (onset − unpause) must differ by a good
    // part of a block while their onsets agree. On an output without a grid the delay is nearly
    // constant and the onsets follow the unpauses' random phases.
    if (this.delayRange() < this.t.blockMinDelayRangeMs) return null;
    return this.phaseOf(this.starts);
  }

  /**
   * Whether more starts could still show a grid: the starts seen so far have delays that differ
   * by a good part of a block (the sign of one) but do not yet agree on a phase — readings timed
   * on a busy host put an onset off its edge, and such a start is dropped only once later ones agree.
   */
  undecided(): boolean {
    if (this.phaseMs() !== null) return false;
    return this.delayRange() >= this.t.blockMinDelayRangeMs;
  }

  /**
   * The delays (onset − unpause) of the recent random-phase starts, ms: with a grid, only those
   * whose onset is on it (a start timed off its edge by a misstamped reading would skew the
   * estimate); slower starts only ever add delay (a busy CPU), and one a block or more over the
   * fastest is left out.
   */
  private delaysOf(phase: number | null): number[] {
    const d = this.randomStarts
      .filter((x) => phase === null || Math.abs(this.residual(x.onsetMs, phase)) <= this.t.blockToleranceMs)
      .map((x) => x.onsetMs - x.unpauseMs)
      .slice(-this.t.blockWindow);
    const fastest = Math.min(...d);
    return d.filter((x) => x < fastest + this.t.outputBlockMs);
  }

  /** max − min of the random-phase delays, ms (0 with fewer than two) */
  private delayRange(): number {
    const d = this.delaysOf(null);
    return d.length >= 2 ? Math.max(...d) - Math.min(...d) : 0;
  }

  /** The send-to-output delay d: the middle of the range the delays of random-phase starts on the grid allow, ms (see the module comment). */
  private delayEstimateMs(delays: readonly number[]): number {
    return (Math.max(...delays) + Math.min(...delays) - this.t.outputBlockMs) / 2;
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

  /** onset − the nearest grid edge, ms, in [−block/2, block/2) */
  private residual(onsetMs: number, phaseMs: number): number {
    const p = this.t.outputBlockMs;
    const r = (((onsetMs - phaseMs) % p) + p) % p;
    return r >= p / 2 ? r - p : r;
  }

  /**
   * A start: the unpause was sent at `unpauseMs` and its first sample was heard at `onsetMs` (local
   * ms); `planned` when its unpause was placed on the grid (not a random phase).
   */
  observe(unpauseMs: number, onsetMs: number, planned = false): void {
    if (!Number.isFinite(unpauseMs) || !Number.isFinite(onsetMs)) return;
    const start = { unpauseMs, onsetMs };
    if (!planned) {
      this.randomStarts.push(start);
      if (this.randomStarts.length > 4 * this.t.blockWindow) this.randomStarts.shift();
    }
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
   * start whose delay differs from the probe's lands a whole block off every time: after two in a
   * row off the same way, the next are sent a quarter block earlier (late) or later (early). One
   * alone is an outlier (a start delayed by a busy host) and moves nothing.
   */
  plannedOutcome(errorMs: number): void {
    const p = this.t.outputBlockMs;
    const miss = errorMs < -p / 2 ? -1 : errorMs > p / 2 ? 1 : 0;
    if (miss !== 0 && miss === this.lastMiss) {
      this.extraLeadMs = Math.max(-p / 2, Math.min(p / 2, this.extraLeadMs - (miss * p) / 4));
      this.lastMiss = 0;
    } else {
      this.lastMiss = miss;
    }
  }

  /** The delays a start is planned from, the d estimated from them and the extra lead, for the log. */
  describe(): string {
    const phase = this.phaseMs();
    const d = phase === null ? [] : this.delaysOf(phase);
    const estimate = d.length ? ` → d ${this.delayEstimateMs(d).toFixed(1)}` : '';
    return `${d.map((x) => x.toFixed(1)).join(' ') || 'none'}${estimate}${this.extraLeadMs ? ` (extra lead ${this.extraLeadMs.toFixed(1)})` : ''}`;
  }

  /**
   * Plans a start at local instant `instantMs` from `positionSec` (the timeline's position there),
   * or null when the output has shown no grid.
   */
  plan(instantMs: number, positionSec: number): StartPlan | null {
    const phase = this.phaseMs();
    if (phase === null) return null;
    // No start at a random phase is on the grid (it moved, and only planned starts have shown the
    // new one): nothing to estimate the delay from until an unplanned start lands on it.
    const delays = this.delaysOf(phase);
    if (delays.length === 0) return null;
    const p = this.t.outputBlockMs;
    // The edge nearest the instant; the next one when the nearest is before a position-0 start.
    let onset = instantMs - this.residual(instantMs, phase);
    if (positionSec + (onset - instantMs) / 1000 < 0) onset += p;
    // Aim u + d at blockEarlyToleranceMs after the edge before s (see the module comment).
    const unpause = onset - p + this.t.blockEarlyToleranceMs - this.delayEstimateMs(delays) - this.extraLeadMs;
    return { onsetMs: onset, positionSec: positionSec + (onset - instantMs) / 1000, unpauseMs: unpause };
  }
}
