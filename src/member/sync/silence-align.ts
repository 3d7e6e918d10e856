/**
 * Aligning a start during silence: while the player plays silence ahead of the sound that must
 * leave at an instant, read the position error and remove it by briefly playing faster or slower.
 * Nothing is heard, so the speed may move far more than the sound controller ever moves it.
 *
 * A round: wait for the audio already made at the old speed to play out (`settleMs`), take the
 * median error of the three readings with the shortest round trips, and slew for the time that
 * removes it at ± `deviation` (± `fastDeviation` when time is short). A slew is made only if the
 * audio it makes is still silence: the player makes its audio `settleMs` before it is heard, so
 * the slew must end `settleMs` + `marginMs` before `silentUntilLocalMs`.
 *
 * Used by the calibration signal's lead-in (signal-playback.ts) and by pre-rolled starts
 * (start-arming.ts).
 */
import { localMs, type LocalMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import type { Player, TimedPosition } from '../player.js';
import type { SyncTime } from './sync-time.js';

export interface AlignParams {
  /** wait before the first round's readings, ms (the first sample must have left) */
  firstWaitMs: number;
  /** audio made at the old speed plays out in this long before a reading shows the change, ms */
  settleMs: number;
  /** shortest slew, ms (shorter ones are lost in the player's buffering) */
  minSlewMs: number;
  /** speed deviation when there is time, fraction */
  deviation: number;
  /** speed deviation when time is short, fraction */
  fastDeviation: number;
  /** an error below this needs no slew, ms */
  toleranceMs: number;
  /** the three best readings must all have round trips under this, ms */
  maxRttMs: number;
  /** a reading with a round trip under this counts as a good one, ms */
  goodRttMs: number;
  readingsPerRound: number;
  readingGapMs: number;
  rounds: number;
  /** margin kept before the silence ends, ms */
  marginMs: number;
}

export interface AlignTarget {
  player: Player;
  /** a reading's error, ms (positive: ahead) */
  errorMs(r: TimedPosition): number;
  /** local instant at which the silence ends (the sound begins) */
  silentUntilLocalMs: LocalMs;
  /** the speed that plays in time on this device */
  baseSpeed: number;
  signal: AbortSignal;
}

export class SilenceAligner {
  constructor(
    private readonly p: AlignParams,
    private readonly time: SyncTime,
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /**
   * Aligns. Returns the last error measured, ms (positive: ahead; null if none was), and whether a
   * slew followed it (then what is left is that slew's imprecision, not the error measured).
   */
  async align(a: AlignTarget): Promise<{ lastErrorMs: number | null; slewedAfter: boolean }> {
    const { player, baseSpeed, signal } = a;
    const p = this.p;
    let last: number | null = null;
    let slewedAfter = false;
    // Coarse waits that end early on abort: a new command must not wait out a round, and three
    // members aligning at once on one host must not spin.
    const wait = (ms: number) => this.time.sleep(ms, signal);
    for (let round = 0; round < p.rounds && !signal.aborted; round++) {
      await wait(round === 0 ? p.firstWaitMs : p.settleMs);
      if (signal.aborted) break;
      // The readings with the shortest round trips (a loaded machine delays some replies by ms).
      const readings: { errMs: number; rttMs: number }[] = [];
      for (let i = 0; i < p.readingsPerRound && !signal.aborted && readings.filter((r) => r.rttMs <= p.goodRttMs).length < 3; i++) {
        try {
          const r = await player.readPosition();
          readings.push({ errMs: a.errorMs(r), rttMs: r.rttMs });
        } catch {
          /* not playing yet */
        }
        await wait(p.readingGapMs);
      }
      if (signal.aborted) break;
      readings.sort((x, y) => x.rttMs - y.rttMs);
      const best = readings.slice(0, 3);
      if (best.length < 3 || best[2]!.rttMs > p.maxRttMs) {
        this.log.debug(`${this.what} alignment: no readings with a round trip under ${p.maxRttMs} ms`);
        continue;
      }
      const err = best.map((r) => r.errMs).sort((x, y) => x - y)[1]!;
      last = err;
      slewedAfter = false;
      this.log.debug(`${this.what} alignment: error ${err.toFixed(3)} ms (round trips ${best.map((r) => r.rttMs.toFixed(2)).join(' ')} ms), ${(a.silentUntilLocalMs - this.time.now()).toFixed(0)} ms of silence left`);
      if (Math.abs(err) < p.toleranceMs) break;
      // Only while the slewed audio is still silence: it is heard settleMs after it is made.
      const availableMs = a.silentUntilLocalMs - this.time.now() - p.settleMs - p.marginMs;
      // Gently when there is time; a start that was far off faster, in half the time left, so
      // that another round can follow.
      let slewMs = Math.max(p.minSlewMs, Math.abs(err) / p.deviation);
      if (slewMs > availableMs / 2) slewMs = Math.max(p.minSlewMs, Math.abs(err) / p.fastDeviation, availableMs / 2);
      if (slewMs > availableMs) break;
      try {
        await player.setSpeed(baseSpeed * (1 - err / slewMs));
        slewedAfter = true;
        await this.time.waitUntil(localMs(this.time.now() + slewMs), signal).catch(() => {});
      } finally {
        // Back to the base speed whatever happened (an abort, a failed command): a slew left on would be heard.
        await player.setSpeed(baseSpeed);
      }
    }
    return { lastErrorMs: last, slewedAfter };
  }
}
