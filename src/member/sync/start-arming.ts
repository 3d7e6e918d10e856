/**
 * Starting at an instant: the player is armed before it (paused, loaded and seeked exactly to
 * the position the timeline has at the instant), then unpaused at the instant minus the learned
 * start lead, with a precise wait. Arming takes time (a slow disk, a loaded CPU): the time allowed
 * follows the slowest recent arms, and an arm that overran its instant moves the start to a later
 * one rather than start late.
 *
 * A start at a track's beginning with time to spare (nothing audible before it, e.g. a scheduled
 * start or a PLAY) is pre-rolled: the track is loaded after P ms of silence joined to it without a
 * gap, the player is unpaused P ms before the instant, and during the silence the start's error
 * (a late restart, a whole mixing block missed) is measured and removed by playing the silence
 * faster or slower (silence-align.ts). The track's first sample then leaves at the instant, not
 * at whatever the output's start granularity allows. Only at a track's beginning: the player joins
 * silence to a file exactly only there.
 */
import type { ClockMapping } from '../../clock/clock-mapping.js';
import { localMs, sharedMs, type LocalMs, type SharedMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import type { Player } from '../player.js';
import { SilenceAligner } from './silence-align.js';
import type { Follower } from './follower.js';
import type { PlayerQueue } from './player-queue.js';
import type { ProbeFile } from './start-probe.js';
import type { SyncTime } from './sync-time.js';
import type { SyncTunables } from './tunables.js';

export interface ArmRequest {
  trackIndex: number;
  /** the track's file here */
  path: string;
  /** the track's length, s (Infinity when unknown) */
  durationSec: number;
  /** position at the start instant, s */
  positionSec: number;
  /** the start instant on the shared clock, minus the latency offset */
  startShared: SharedMs;
}

export class StartArming {
  /** how long recent arms (load or seek, paused, until the player restarted) took, ms */
  private readonly armDurationsMs: number[] = [];

  private readonly aligner: SilenceAligner;

  constructor(
    private readonly t: SyncTunables,
    private readonly time: SyncTime,
    private readonly log: Logger,
    private readonly prepareMinMs: number,
    /** the silence to pre-roll a start of a track's file on, or null: no pre-rolled starts */
    private readonly silenceFor: ((trackPath: string) => Promise<ProbeFile>) | null = null,
  ) {
    this.aligner = new SilenceAligner(
      {
        firstWaitMs: t.prerollFirstReadMs,
        settleMs: t.prerollSettleMs,
        minSlewMs: t.prerollMinSlewMs,
        deviation: t.prerollDeviation,
        fastDeviation: t.prerollFastDeviation,
        toleranceMs: t.prerollToleranceMs,
        maxRttMs: t.signalMaxRttMs,
        goodRttMs: t.signalGoodRttMs,
        readingsPerRound: t.signalReadingsPerRound,
        readingGapMs: t.probeReadingGapMs,
        rounds: t.prerollRounds,
        marginMs: 0,
      },
      time,
      log,
      'pre-roll',
    );
  }

  /** Time to allow for arming before an instant: the configured minimum, or more if arms have been slow. */
  prepareMs(): number {
    const slowest = this.armDurationsMs.length ? Math.max(...this.armDurationsMs) : 0;
    return Math.max(this.prepareMinMs, this.t.slowArmFactor * slowest + this.t.slowArmMarginMs);
  }

  /** Remembers how long an arm took (the recent ones set prepareMs). */
  private armTook(ms: number): void {
    this.armDurationsMs.push(ms);
    if (this.armDurationsMs.length > this.t.armWindow) this.armDurationsMs.shift();
  }

  /** Waits until local instant `local` (returns at once if it has passed or on abort). */
  async waitLocal(local: LocalMs, signal: AbortSignal): Promise<void> {
    if (local > this.time.now()) {
      try {
        await this.time.waitUntil(local, signal);
      } catch {
        /* aborted */
      }
    }
  }

  /** Waits until shared instant `sharedMs` (returns at once if it has passed or on abort). */
  waitShared(clock: ClockMapping, shared: SharedMs, signal: AbortSignal): Promise<void> {
    return this.waitLocal(clock.toLocal(shared), signal);
  }

  /**
   * Arms `r` and unpauses at its instant. `onArmed` is called once the player is ready and
   * waiting, `onStarted` right after the unpause; nothing is called after an abort.
   */
  async armAndStart(
    player: Player,
    clock: ClockMapping,
    queue: PlayerQueue,
    follower: Follower,
    r: ArmRequest,
    signal: AbortSignal,
    onArmed: () => void,
    onStarted: () => void,
  ): Promise<void> {
    await player.setPaused(true);
    // The player may have moved on to the entry queued after the one the queue thinks it plays
    // (a track repeated: the same track, without the silence before it).
    await queue.followAdvance(player);
    const silence = this.silenceFor && r.positionSec === 0 ? await this.silenceFor(r.path) : null;
    const prerollMs = silence ? this.prerollFor(clock, follower, r, silence) : null;
    if (silence && prerollMs !== null) return this.prerolledStart(player, clock, queue, follower, r, silence, prerollMs, signal, onArmed, onStarted);
    let { positionSec, startShared } = r;
    // On an output that takes sound in blocks on a grid, the start is planned on it (output-blocks.ts):
    // armed at the position of the grid edge nearest the instant, unpaused mid-block before it.
    const planFor = (pos: number, at: SharedMs) => {
      const plan = follower.blocks.plan(clock.toLocal(at), pos);
      return plan && plan.positionSec < r.durationSec ? plan : null;
    };
    let plan = planFor(positionSec, startShared);
    // Arming can take longer than planned: then the instant has passed, and unpausing now would
    // start late. Instead move the start to a later instant and seek again to the position the
    // timeline has there.
    for (let attempt = 0; ; attempt++) {
      const armStarted = this.time.now();
      await queue.loadAt(player, r.trackIndex, r.path, plan ? plan.positionSec : positionSec);
      this.armTook(this.time.now() - armStarted);
      const unpauseShared = plan ? clock.toShared(localMs(plan.unpauseMs)) : startShared - follower.lead.ms;
      const spareMs = unpauseShared - clock.toShared(this.time.now());
      if (spareMs > this.t.minSpareMs || attempt >= this.t.maxLaterStarts || signal.aborted) break;
      const later = sharedMs(clock.toShared(this.time.now()) + this.prepareMs());
      const laterPosition = positionSec + (later - startShared) / 1000;
      if (laterPosition >= r.durationSec) break;
      this.log.debug(`arming took too long (${(-spareMs).toFixed(0)} ms late): starting at a later instant`);
      positionSec = laterPosition;
      startShared = later;
      plan = planFor(positionSec, startShared);
    }
    await queue.queueNext(player);
    follower.rearmed();
    await player.setSpeed(follower.speed);
    if (signal.aborted) return;
    onArmed();
    if (plan) await this.waitLocal(localMs(plan.unpauseMs), signal);
    else await this.waitShared(clock, sharedMs(startShared - follower.lead.ms), signal);
    if (signal.aborted) return;
    const unpauseMs = this.time.now();
    await player.setPaused(false);
    onStarted();
    follower.started(unpauseMs, plan ? plan.onsetMs : clock.toLocal(startShared), { planned: plan !== null, lateMs: plan ? unpauseMs - plan.unpauseMs : 0 });
  }

  /**
   * The silence to pre-roll `r` on, ms (a whole number of 10 ms: whole samples at 44.1 and 48 kHz),
   * or null when it cannot be: less time before the instant than arming, the start lead and the
   * shortest useful silence take. (Only a start at a track's beginning is asked.)
   */
  private prerollFor(clock: ClockMapping, follower: Follower, r: ArmRequest, silence: ProbeFile): number | null {
    const spareMs = r.startShared - clock.toShared(this.time.now()) - this.prepareMs() - follower.lead.ms;
    const ms = Math.floor(Math.min(spareMs, this.t.prerollMaxMs, silence.durationSec * 1000) / 10) * 10;
    return ms >= this.t.prerollMinMs ? ms : null;
  }

  /** Arms `r` after `prerollMs` of silence, unpauses that much before the instant, and aligns during the silence. */
  private async prerolledStart(
    player: Player,
    clock: ClockMapping,
    queue: PlayerQueue,
    follower: Follower,
    r: ArmRequest,
    silence: ProbeFile,
    prerollMs: number,
    signal: AbortSignal,
    onArmed: () => void,
    onStarted: () => void,
  ): Promise<void> {
    const silenceSec = prerollMs / 1000;
    const armStarted = this.time.now();
    await queue.loadAfterSilence(player, r.trackIndex, r.path, silence.path, silenceSec);
    this.armTook(this.time.now() - armStarted);
    await queue.queueNext(player);
    follower.rearmed();
    await player.setSpeed(follower.speed);
    if (signal.aborted) return;
    onArmed();
    const unpauseShared = sharedMs(r.startShared - prerollMs - follower.lead.ms);
    await this.waitShared(clock, unpauseShared, signal);
    if (signal.aborted) return;
    const unpauseMs = this.time.now();
    await player.setPaused(false);
    onStarted();
    const onsetMs = clock.toLocal(r.startShared);
    follower.started(unpauseMs, onsetMs, { prerolled: true });
    // The entry's position p (silence included) is the track's p − silence, due at startShared + that.
    const { lastErrorMs, slewedAfter } = await this.aligner.align({
      player,
      errorMs: (x) => (x.positionSec - silenceSec) * 1000 - (clock.toShared(x.localMs) - r.startShared),
      silentUntilLocalMs: onsetMs,
      baseSpeed: follower.speed,
      signal,
    });
    this.log.debug(`pre-rolled start: ${prerollMs} ms of silence, unpause sent ${(unpauseMs - clock.toLocal(unpauseShared)).toFixed(2)} ms late, last error measured ${lastErrorMs === null ? 'none' : `${lastErrorMs.toFixed(3)} ms${slewedAfter ? ' (slewed away after)' : ''}`}`);
    if (signal.aborted) return;
    // Aligned: the sound controller starts calm. Not aligned (no good readings, too little time
    // to slew): its start transient removes what is left.
    if (lastErrorMs !== null && Math.abs(lastErrorMs) <= this.t.prerollAlignedMs) follower.aligned(slewedAfter ? 0 : lastErrorMs);
    // Back to the timeline only once it is in force.
    await this.waitLocal(onsetMs, signal);
  }
}
