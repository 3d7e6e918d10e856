/**
 * Playing the calibration signal so that its sweep (after `leadInSec` of silence) leaves when
 * music would: at the requested shared instant minus the latency offset, on the player's output
 * position (the same position music is held to). An unpause alone lands late by the player's
 * restart latency and the output's start granularity (whole PulseAudio mixing blocks: 0, 10,
 * 30 ms), so the silence is used to measure the error and remove it by briefly playing faster or
 * slower (align). If the request came too late for the whole lead-in, the file starts part-way
 * into the silence.
 */
import type { ClockMapping } from '../../clock/clock-mapping.js';
import { localMs, sharedMs, type SharedMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import type { Player } from '../player.js';
import type { SyncTime } from './sync-time.js';
import type { SyncTunables } from './tunables.js';

/** A calibration signal: a file of `leadInSec` silence, then the sweep due at shared `atShared`. */
export interface SignalRequest {
  atShared: SharedMs;
  path: string;
  durationSec: number;
  leadInSec: number;
}

export interface SignalContext {
  player: Player;
  clock: ClockMapping;
  latencyOffsetMs: number;
  /** time allowed to load before an instant, ms */
  prepareMs: number;
  /** how early an unpause is sent, ms */
  startLeadMs: number;
  /** the speed that plays in time on this device (its learned drift removed) */
  baseSpeed: number;
  signal: AbortSignal;
}

export class SignalPlayback {
  constructor(
    private readonly t: SyncTunables,
    private readonly time: SyncTime,
    private readonly log: Logger,
  ) {}

  /** Loads, starts, aligns and plays the signal to its end. The caller stops the player afterwards. */
  async play(c: SignalContext, s: SignalRequest): Promise<void> {
    const { player, clock } = c;
    const sweepShared = sharedMs(s.atShared - c.latencyOffsetMs);
    const spareSec = (sweepShared - clock.toShared(this.time.now()) - c.prepareMs) / 1000;
    const skipSec = Math.max(0, Math.min(s.leadInSec, s.leadInSec - spareSec));
    const leadInSec = s.leadInSec - skipSec;
    await player.setPaused(true);
    await player.load(s.path, skipSec > 0 ? skipSec : undefined);
    await player.setSpeed(c.baseSpeed);
    // In the timeline's frame (shared + latency offset), as music: file position p is due at fileStart + p.
    const fileStartTarget = s.atShared - s.leadInSec * 1000;
    const startAt = clock.toLocal(sharedMs(sweepShared - leadInSec * 1000 - c.startLeadMs));
    if (startAt > this.time.now()) await this.time.waitUntil(startAt, c.signal).catch(() => {});
    if (c.signal.aborted) return;
    const ended = player.whenEnded((s.durationSec - skipSec) * 1000 + this.t.signalEndGraceMs);
    ended.catch(() => {});
    await player.setPaused(false);
    const residualMs = await this.align(c, fileStartTarget, sweepShared);
    this.log.info(`playing the calibration signal${residualMs === null ? '' : ` (timing ${residualMs >= 0 ? '+' : ''}${residualMs.toFixed(2)} ms)`}`);
    await ended;
  }

  /**
   * During the signal's silent lead-in: reads the position error (the median of the three
   * readings with the shortest round trips) and removes it by playing at base ± signalDeviation
   * (up to ± signalFastDeviation for a start that was far off) for a measured while — silence, so
   * nothing is heard — then lets the audio already buffered at the old speed play out before
   * measuring again. Returns the last error measured, ms (positive: ahead), or null if none.
   */
  private async align(c: SignalContext, fileStartTarget: number, sweepShared: SharedMs): Promise<number | null> {
    const { player, clock, baseSpeed, signal } = c;
    const t = this.t;
    let last: number | null = null;
    for (let round = 0; round < t.signalRounds && !signal.aborted; round++) {
      await this.time.sleep(t.signalSettleMs);
      // The readings with the shortest round trips (a loaded machine delays some replies by ms).
      const readings: { errMs: number; rttMs: number }[] = [];
      for (let i = 0; i < t.signalReadingsPerRound && readings.filter((r) => r.rttMs <= t.signalGoodRttMs).length < 3; i++) {
        try {
          const r = await player.readPosition();
          readings.push({ errMs: r.positionSec * 1000 - (clock.toShared(r.localMs) + c.latencyOffsetMs - fileStartTarget), rttMs: r.rttMs });
        } catch {
          /* not playing yet */
        }
        await this.time.sleep(t.signalReadingGapMs);
      }
      readings.sort((a, b) => a.rttMs - b.rttMs);
      const best = readings.slice(0, 3);
      if (best.length < 3 || best[2]!.rttMs > t.signalMaxRttMs) {
        this.log.debug(`signal alignment: no readings with a round trip under ${t.signalMaxRttMs} ms`);
        continue;
      }
      const err = best.map((r) => r.errMs).sort((a, b) => a - b)[1]!;
      last = err;
      this.log.debug(`signal alignment: error ${err.toFixed(3)} ms (round trips ${best.map((r) => r.rttMs.toFixed(2)).join(' ')} ms), ${(clock.toLocal(sweepShared) - this.time.now()).toFixed(0)} ms to go`);
      if (Math.abs(err) < t.signalToleranceMs) break;
      // Only while the slewed audio is still silence: it plays out signalSettleMs after it is made.
      const availableMs = clock.toLocal(sweepShared) - this.time.now() - t.signalSettleMs - t.signalMarginMs;
      // Gently when there is time; a start that was far off (opening the audio device can take a
      // few hundred ms) faster, in half the time left, so that another round can follow.
      let slewMs = Math.max(t.signalMinSlewMs, Math.abs(err) / t.signalDeviation);
      if (slewMs > availableMs / 2) slewMs = Math.max(t.signalMinSlewMs, Math.abs(err) / t.signalFastDeviation, availableMs / 2);
      if (slewMs > availableMs) break;
      await player.setSpeed(baseSpeed * (1 - err / slewMs));
      await this.time.waitUntil(localMs(this.time.now() + slewMs), signal).catch(() => {});
      await player.setSpeed(baseSpeed);
    }
    return last;
  }
}
