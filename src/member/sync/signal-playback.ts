/**
 * Playing the calibration signal so that its sweep (after `leadInSec` of silence) leaves when
 * music would: at the requested shared instant minus the latency offset, on the player's output
 * position (the same position music is held to). An unpause alone lands late by the player's
 * restart latency and the output's start granularity (whole PulseAudio mixing blocks: 0, 10,
 * 30 ms), so the silence is used to measure the error and remove it by briefly playing faster or
 * slower (silence-align.ts). If the request came too late for the whole lead-in, the file starts part-way
 * into the silence.
 */
import type { ClockMapping } from '../../clock/clock-mapping.js';
import { sharedMs, type SharedMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import type { Player } from '../player.js';
import { SilenceAligner } from './silence-align.js';
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
  private readonly aligner: SilenceAligner;

  constructor(
    private readonly t: SyncTunables,
    private readonly time: SyncTime,
    private readonly log: Logger,
  ) {
    this.aligner = new SilenceAligner(
      {
        firstWaitMs: t.signalSettleMs,
        settleMs: t.signalSettleMs,
        minSlewMs: t.signalMinSlewMs,
        deviation: t.signalDeviation,
        fastDeviation: t.signalFastDeviation,
        toleranceMs: t.signalToleranceMs,
        maxRttMs: t.signalMaxRttMs,
        goodRttMs: t.signalGoodRttMs,
        readingsPerRound: t.signalReadingsPerRound,
        readingGapMs: t.signalReadingGapMs,
        rounds: t.signalRounds,
        marginMs: t.signalMarginMs,
      },
      time,
      log,
      'signal',
    );
  }

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
    // In the timeline's frame, file position p is due at fileStartTarget + p.
    const { lastErrorMs: residualMs } = await this.aligner.align({
      player,
      errorMs: (r) => r.positionSec * 1000 - (clock.toShared(r.localMs) + c.latencyOffsetMs - fileStartTarget),
      silentUntilLocalMs: clock.toLocal(sweepShared),
      baseSpeed: c.baseSpeed,
      signal: c.signal,
    });
    this.log.info(`playing the calibration signal${residualMs === null ? '' : ` (timing ${residualMs >= 0 ? '+' : ''}${residualMs.toFixed(2)} ms)`}`);
    await ended;
  }
}
