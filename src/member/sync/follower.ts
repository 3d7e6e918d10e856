/**
 * Following the timeline while playing: read the position, compare it with where the timeline
 * says this device should be, and let the SoundController turn the error into a speed nudge, or
 * ask for a re-arm (an exact seek at a near instant) when the error is too large to chase.
 *
 * error = position read − timeline position at the reading's instant (positive: ahead). The
 * reading's instant is its local timestamp mapped to the shared clock, plus the latency offset.
 */
import type { ClockMapping } from '../../clock/clock-mapping.js';
import { sharedMs, type LocalMs, type SharedMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import { playheadAt, type Timeline, type Track } from '../../protocol/index.js';
import type { Player } from '../player.js';
import { SoundController, type SoundControllerOptions } from '../sound-controller.js';
import { ReadingGate } from './reading-gate.js';
import { OutputBlocks } from './output-blocks.js';
import { StartLead } from './start-lead.js';
import type { SyncTunables } from './tunables.js';

export interface SyncReading {
  /** local monotonic ms of the reading (where in its IPC round trip mpv read it: mpv/ipc-client.ts) */
  localMs: LocalMs;
  /** the same instant on the shared clock, as this member estimates it */
  sharedMs: SharedMs;
  /** the latency offset in force (the member aims at the timeline position of sharedMs + this) */
  latencyOffsetMs: number;
  ipcRttMs: number;
  trackIndex: number;
  audioPtsSec: number;
  errorMs: number;
  speed: number;
}

export interface StartedFacts {
  /** planned on the output's block grid */
  planned?: boolean;
  /** the unpause was sent this long after its planned instant, ms */
  lateMs?: number;
  /** started ahead of its instant on silence and aligned during it (start-arming.ts): its first reading teaches neither the lead nor the grid */
  prerolled?: boolean;
}

export interface FollowContext {
  player: Player;
  clock: ClockMapping;
  timeline: Timeline;
  tracks: readonly Track[];
  /** the track the player has loaded */
  loadedTrack: number | null;
  /** the silence the player plays before the loaded track (positions read are the track's plus this), s */
  silenceBeforeSec: number;
  latencyOffsetMs: number;
}

export class Follower {
  readonly controller: SoundController;
  readonly lead: StartLead;
  readonly blocks: OutputBlocks;
  /** the last start, until its first reading shows where its first sample was heard (local ms) */
  private pendingStart: { unpauseMs: number; onsetMs: number; facts: StartedFacts } | null = null;
  private readonly gate: ReadingGate;
  private lastReadingMs: LocalMs | null = null;
  /** the last error measured, ms */
  lastErrorMs: number | null = null;
  /** the speed the player was last set to */
  speed = 1;
  hardSeeks = 0;

  constructor(
    private readonly t: SyncTunables,
    private readonly log: Logger,
    opts: { controller?: Partial<SoundControllerOptions>; maxReadingRttMs?: number; onReading?: (r: SyncReading) => void },
  ) {
    this.controller = new SoundController(opts.controller);
    this.lead = new StartLead(t);
    this.blocks = new OutputBlocks(t);
    this.gate = new ReadingGate(t, opts.maxReadingRttMs);
    this.onReading = opts.onReading;
  }

  private readonly onReading: ((r: SyncReading) => void) | undefined;

  /** The speed a fresh start runs at: 1 corrected by the drift the controller has learned. */
  baseSpeed(): number {
    return 1 - this.controller.learnedDrift;
  }

  /** Playback was (re)armed and is about to start: a new start transient, no previous reading. */
  rearmed(): void {
    this.speed = this.baseSpeed();
    this.controller.rearmed(this.speed);
  }

  /** The start was aligned before it was heard (start-arming.ts) and is left `errorMs` off: no start transient. */
  aligned(errorMs: number): void {
    this.controller.aligned(errorMs / 1000);
  }

  /** Playback started: the unpause was sent at `unpauseMs`, the first sample was due at `onsetMs` (local ms). */
  started(unpauseMs: number, onsetMs: number, facts: StartedFacts = {}): void {
    this.lastReadingMs = null;
    if (facts.prerolled) {
      // Nothing of an earlier start that never had its reading may be taken for this one's.
      this.pendingStart = null;
      this.lead.forget();
      return;
    }
    this.lead.started();
    this.pendingStart = { unpauseMs, onsetMs, facts };
  }

  /**
   * One controller step: measure the error and nudge the speed. Returns 'rearm' when the error is
   * too large to chase by speed (the caller re-arms with an exact seek).
   */
  async correct(c: FollowContext): Promise<'rearm' | undefined> {
    // A reading is uncertain by up to its round trip (when within it mpv read the value); of a
    // few taken back to back, the one with the shortest round trip is the best.
    let reading: Awaited<ReturnType<Player['readPosition']>> | undefined;
    for (let i = 0; i < this.t.readingsPerTick; i++) {
      try {
        const r = await c.player.readPosition();
        if (!reading || r.rttMs < reading.rttMs) reading = r;
      } catch {
        break; // no audio position yet (just started, or between files)
      }
    }
    if (!reading) return;
    if (!this.gate.accepts(reading.rttMs)) return;
    const sharedAt = c.clock.toShared(reading.localMs);
    const expected = playheadAt(c.timeline, c.tracks, sharedMs(sharedAt + c.latencyOffsetMs));
    if (expected.state !== 'playing' || expected.trackIndex !== c.loadedTrack) return;
    const positionSec = reading.positionSec - c.silenceBeforeSec;
    const errorSec = positionSec - expected.positionSec;
    const dtSec = this.lastReadingMs === null ? this.t.firstReadingDtSec : (reading.localMs - this.lastReadingMs) / 1000;
    this.lastReadingMs = reading.localMs;
    this.lastErrorMs = errorSec * 1000;
    this.lead.observe(this.lastErrorMs);
    if (this.pendingStart) {
      // Ahead by e: the first sample was heard e before it was due.
      const { unpauseMs, onsetMs, facts } = this.pendingStart;
      const plan = facts.planned ? `; planned on the grid from delays ${this.blocks.describe()}, unpause sent ${(facts.lateMs ?? 0).toFixed(2)} ms after its plan` : '';
      this.log.debug(`start: first sample ${(onsetMs - this.lastErrorMs - unpauseMs).toFixed(2)} ms after the unpause, first error ${this.lastErrorMs.toFixed(2)} ms${plan}`);
      if (Math.abs(this.lastErrorMs) < this.t.leadMaxErrorMs) {
        this.blocks.observe(unpauseMs, onsetMs - this.lastErrorMs, facts.planned);
        if (facts.planned) this.blocks.plannedOutcome(this.lastErrorMs);
      }
      this.pendingStart = null;
    }
    const decision = this.controller.update(errorSec, dtSec);
    if (decision.action === 'hard-seek') {
      this.hardSeeks += 1;
      this.log.info(`off by ${(errorSec * 1000).toFixed(1)} ms: re-syncing with an exact seek`);
      return 'rearm';
    }
    if (Math.abs(decision.speed - this.speed) > 1e-7) {
      await c.player.setSpeed(decision.speed);
      this.speed = decision.speed;
    }
    this.onReading?.({ localMs: reading.localMs, sharedMs: sharedAt, latencyOffsetMs: c.latencyOffsetMs, ipcRttMs: reading.rttMs, trackIndex: expected.trackIndex, audioPtsSec: positionSec, errorMs: errorSec * 1000, speed: this.speed });
  }
}

/**
 * Whether the timeline crosses from one track into the next (by auto-advance) within `graceMs`
 * around `targetMs`: a playhead that is not continuous over ±grace around `positionSec`.
 */
export function nearBoundary(timeline: Timeline, tracks: readonly Track[], trackIndex: number, positionSec: number, targetMs: SharedMs, graceMs: number): boolean {
  const before = playheadAt(timeline, tracks, sharedMs(targetMs - graceMs));
  const after = playheadAt(timeline, tracks, sharedMs(targetMs + graceMs));
  const crossedBefore = before.state === 'playing' && (before.trackIndex !== trackIndex || before.positionSec > positionSec);
  const crossesAfter = after.state !== 'playing' || after.trackIndex !== trackIndex || after.positionSec < positionSec;
  return crossedBefore || crossesAfter;
}
