/**
 * Makes this device's player follow the leader's timeline.
 *
 * Every tick it asks: under the timeline in force at (shared now + latency offset), which track
 * and position should be audible? Then:
 * - a timeline announced for a future instant is prepared ahead ("armed": paused, loaded and
 *   seeked exactly) and unpaused at that instant with a precise wait (start-arming.ts), early by
 *   the learned start lead (start-lead.ts) — or, on an output that mixes in blocks on a grid,
 *   armed at the grid edge nearest the instant and unpaused mid-block before it (output-blocks.ts);
 * - while playing, the player's output position, stamped where in its request's round trip mpv
 *   read it, is compared with the timeline and the SoundController turns the error into a speed
 *   nudge, or asks for a re-arm when it is large (follower.ts; readings with slow round trips are
 *   dropped by reading-gate.ts);
 * - tracks follow one another inside the player (gapless, the next one queued: player-queue.ts),
 *   and anything else (a late join, a dead player, a missing file) is repaired by re-arming at a
 *   near instant;
 * - a calibration signal is played on request, then back to the timeline (signal-playback.ts).
 * A member with a latency offset L plays the timeline L ms early, so its sound, delayed by its
 * output device, lines up with the others'. The numbers it is tuned by are in tunables.ts.
 */
import type { ClockMapping } from '../../clock/clock-mapping.js';
import { sharedMs, type SharedMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import { TimelineHistory, nextTrackIndex, playheadAt, type StatusMessage, type Timeline, type Track } from '../../protocol/index.js';
import type { FileCheck } from '../file-check.js';
import type { Player, PlayerHost } from '../player.js';
import type { SoundControllerOptions } from '../sound-controller.js';
import { Follower, nearBoundary, type SyncReading } from './follower.js';
import { PlayerQueue } from './player-queue.js';
import { SignalPlayback, type SignalRequest } from './signal-playback.js';
import { StartArming } from './start-arming.js';
import { StartProbe, type ProbeFile } from './start-probe.js';
import { REAL_TIME, type SyncTime } from './sync-time.js';
import { DEFAULT_SYNC_TUNABLES, type SyncTunables } from './tunables.js';

export type { SyncReading } from './follower.js';

export interface PlayerSyncOptions {
  player: PlayerHost;
  clock: () => ClockMapping | null;
  files: Pick<FileCheck, 'file'>;
  log: Logger;
  latencyOffsetMs: number;
  controller?: Partial<SoundControllerOptions>;
  tickMs?: number;
  /** how long before an instant to start preparing when something is audible now */
  prepareMs?: number;
  /** readings whose IPC round trip exceeds this are discarded as untrustworthy */
  maxReadingRttMs?: number;
  /** called after each accepted reading (benchmarks and tests) */
  onReading?: (r: SyncReading) => void;
  /** the local clock (default: the real one) */
  time?: SyncTime;
  /** a file of silence: with it, the output's start latency is measured before the first start (start-probe.ts) */
  startProbe?: ProbeFile;
  /** the file of silence (as Player.loadAfterSilence takes it) to play before the track at a path: with it, a start at a track's beginning with time to spare is pre-rolled on silence (start-arming.ts) */
  prerollSilence?: (trackPath: string) => Promise<ProbeFile>;
  tunables?: Partial<SyncTunables>;
}

type Phase = StatusMessage['playerState'];

export class PlayerSync {
  private tracks: Track[] = [];
  private readonly history = new TimelineHistory();
  private player: Player | null = null;
  private phase: Phase = 'down';
  private busy = false;
  private stopped = false;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retryAfterMs = 0;
  private pausedAt: { track: number; positionSec: number } | null = null;
  private latencyOffsetMs: number;
  /** the repeat mode of the timeline in force: decides which track the player queues next */
  private repeat: Timeline['repeat'] = 'off';
  private output = { volume: 100, muted: false };
  /** a calibration signal to play at a shared instant, then back to the timeline */
  private pendingSignal: SignalRequest | null = null;
  /** the files' statuses changed since the last tick */
  private filesDirty = false;
  /** while silent: the state of the silent track's file when the silence began */
  private silentFor = '';
  /** the player may still hold files of the previous playlist */
  private holdsOldPlaylist = false;
  private readonly t: SyncTunables;
  private readonly time: SyncTime;
  private readonly queue: PlayerQueue;
  private readonly follower: Follower;
  private readonly arming: StartArming;
  private readonly signalPlayback: SignalPlayback;
  private readonly probe: StartProbe;
  /** the start latency has not been measured (fully) on this player yet */
  private probePending = false;
  /** the start probe is running */
  private probing = false;

  constructor(private readonly opts: PlayerSyncOptions) {
    this.t = { ...DEFAULT_SYNC_TUNABLES, ...opts.tunables };
    this.time = opts.time ?? REAL_TIME;
    this.latencyOffsetMs = opts.latencyOffsetMs;
    this.queue = new PlayerQueue((loaded) => {
      const next = nextTrackIndex(this.repeat, loaded, this.tracks.length);
      const file = next === null ? null : this.opts.files.file(next);
      return next !== null && file?.status === 'ok' && file.absPath ? { trackIndex: next, path: file.absPath } : null;
    }, opts.log);
    this.follower = new Follower(this.t, opts.log, {
      ...(opts.controller ? { controller: opts.controller } : {}),
      ...(opts.maxReadingRttMs !== undefined ? { maxReadingRttMs: opts.maxReadingRttMs } : {}),
      ...(opts.onReading ? { onReading: opts.onReading } : {}),
    });
    this.arming = new StartArming(this.t, this.time, opts.log, opts.prepareMs ?? this.t.prepareMs, opts.prerollSilence ?? null);
    this.signalPlayback = new SignalPlayback(this.t, this.time, opts.log);
    this.probe = new StartProbe(this.t, this.time, opts.log);
    opts.player.onReady((player) => {
      this.player = player;
      this.phase = 'idle';
      this.queue.clear();
      this.follower.speed = 1;
      this.pausedAt = null;
      this.probePending = opts.startProbe !== undefined;
      void this.applyOutput();
      this.poke();
    });
    opts.player.onDown(() => {
      this.player = null;
      this.phase = 'down';
      this.abort?.abort();
      // Shutting down, the player dies with the rest (a terminal's Ctrl-C reaches mpv too): no news.
      if (!this.stopped) opts.log.warn('mpv died; restarting it and rejoining the timeline');
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? this.t.tickMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.abort?.abort();
  }

  /**
   * A new playlist (a member's may still have holes: tracks whose page has not arrived). What the
   * player holds belongs to the old one and is stopped before anything else happens.
   */
  setTracks(tracks: Track[]): void {
    this.tracks = tracks;
    this.queue.clear();
    this.phase = this.player ? 'idle' : 'down';
    this.holdsOldPlaylist = true;
    this.poke();
  }

  setTimeline(timeline: Timeline): void {
    if (!this.history.add(timeline)) return;
    // A new command cancels whatever was being prepared for an older one; the start probe goes on
    // while the command leaves it time (it looks again before each round).
    if (!this.probing || !this.probeMayRun()) this.abort?.abort();
    this.poke();
  }

  /**
   * Plays a calibration test signal (a WAV file) through this member's own player path at shared
   * instant `atShared` — shifted by the latency offset like music — then returns to the timeline.
   */
  playSignal(atShared: SharedMs, path: string, durationSec: number, leadInSec = 0): void {
    this.pendingSignal = { atShared, path, durationSec, leadInSec };
    // A calibration plays its sweeps one after another: a probe taking the player in between
    // would shorten the next one's lead-in (and move the start lead it is played with).
    this.probePending = false;
    this.abort?.abort();
    this.poke();
  }

  /**
   * A track's file became playable here (or stopped being so): a member silent for want of it
   * starts at a near instant, and a playing one queues the right next track.
   */
  filesChanged(): void {
    this.filesDirty = true;
    this.poke();
  }

  /** After the leader restarted: forget its old timelines. */
  resetTimelines(): void {
    this.history.clear();
  }

  setLatencyOffset(ms: number): void {
    if (ms === this.latencyOffsetMs) return;
    this.opts.log.info(`latency offset ${ms} ms`);
    this.latencyOffsetMs = ms;
  }

  /** Volume (0–100) and mute, applied to the player now and after every restart. */
  setOutput(volume: number, muted: boolean): void {
    if (volume === this.output.volume && muted === this.output.muted) return;
    this.output = { volume, muted };
    void this.applyOutput();
  }

  private async applyOutput(): Promise<void> {
    const player = this.player;
    if (!player) return;
    try {
      await player.setVolume(this.output.volume, this.output.muted);
    } catch (e) {
      this.opts.log.warn(`cannot set volume: ${(e as Error).message}`);
    }
  }

  status(): Omit<StatusMessage, 'type' | 'clockOffsetMs' | 'rttMs' | 'clockSkewPpm' | 'fileStatus' | 'fileProblems'> {
    return {
      errorMs: this.phase === 'playing' ? this.follower.lastErrorMs : null,
      speed: this.player ? this.follower.speed : null,
      trackIndex: this.queue.loaded(),
      playerState: this.phase,
      latencyOffsetMs: this.latencyOffsetMs,
      volume: this.output.volume,
      muted: this.output.muted,
      hardSeeks: this.follower.hardSeeks,
    };
  }

  private poke(): void {
    setImmediate(() => void this.tick());
  }

  /** Shared instant whose timeline position this device should be playing now. */
  private target(sharedNow: SharedMs): SharedMs {
    return sharedMs(sharedNow + this.latencyOffsetMs);
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.player || this.stopped) return;
    const clock = this.opts.clock();
    if (this.time.now() < this.retryAfterMs) return;
    // The start probe needs neither the clock nor the playlist: it runs as soon as the player is
    // ready, while the member is still joining, so that it is done before the first command.
    const probe = this.probePending && this.opts.startProbe && !this.pendingSignal && this.probeMayRun() ? this.opts.startProbe : null;
    if (!probe && (!clock || this.tracks.length === 0)) return;
    this.busy = true;
    const player = this.player;
    try {
      if (probe) await this.runProbe(player, probe);
      else await this.step(player, clock!);
    } catch (e) {
      if (this.player === player && !this.stopped) {
        this.opts.log.warn(`player: ${(e as Error).message}`);
        this.phase = 'idle';
        this.retryAfterMs = this.time.now() + this.t.retryAfterErrorMs;
      }
    } finally {
      this.busy = false;
    }
  }

  private async step(player: Player, clock: ClockMapping): Promise<void> {
    if (this.pendingSignal) {
      const signal = this.pendingSignal;
      this.pendingSignal = null;
      return this.runSignal(player, clock, signal);
    }
    if (this.holdsOldPlaylist) {
      this.holdsOldPlaylist = false;
      await player.stop();
    }
    if (this.filesDirty) {
      this.filesDirty = false;
      // Silent: try again only when the silent track's file changed (not for every other file checked).
      if (this.phase === 'silent' && this.pausedAt && (this.silentFor !== this.fileState(this.pausedAt.track) || this.opts.files.file(this.pausedAt.track)?.status === 'ok')) this.pausedAt = null;
      else if (this.phase === 'playing' || this.phase === 'paused') await this.queue.queueNext(player);
    }
    const sharedNow = clock.toShared(this.time.now());
    const t = this.target(sharedNow);
    this.history.prune(t);
    const upcoming = this.history.upcoming(t);
    const current = this.history.effective(t);
    if (upcoming) {
      const leadMs = upcoming.at - t;
      const audible = this.phase === 'playing';
      if (!audible || leadMs <= this.arming.prepareMs()) {
        await this.transition(player, clock, upcoming);
        return;
      }
    }
    if (!current) return this.ensureIdle(player);
    if (current.repeat !== this.repeat) {
      this.repeat = current.repeat;
      if (this.phase === 'playing' || this.phase === 'paused') await this.queue.queueNext(player);
    }
    const here = playheadAt(current, this.tracks, t);
    if (here.state === 'stopped' || here.state === 'ended' || here.state === 'pending') return this.ensureIdle(player);
    if (here.state === 'paused') return this.ensurePaused(player, here.trackIndex, here.positionSec);
    return this.follow(player, clock, current, here.trackIndex, here.positionSec);
  }

  /** Prepares for `timeline` and switches to it exactly at its instant. */
  private async transition(player: Player, clock: ClockMapping, timeline: Timeline): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const startShared = sharedMs(timeline.at - this.latencyOffsetMs);
    if (timeline.state === 'playing') {
      const file = this.opts.files.file(timeline.trackIndex);
      if (file?.status !== 'ok') {
        await this.arming.waitShared(clock, startShared, abort.signal);
        if (!abort.signal.aborted) await this.silence(player, timeline.trackIndex);
        return;
      }
      if (this.phase === 'playing' && this.continues(timeline, startShared)) {
        // Same sound either way (a repeat-mode change, a restated timeline): nothing to re-arm.
        await this.arming.waitShared(clock, startShared, abort.signal);
        return;
      }
      const prepareAt = sharedMs(startShared - this.arming.prepareMs());
      if (this.phase === 'playing') await this.arming.waitShared(clock, prepareAt, abort.signal);
      if (abort.signal.aborted) return;
      await this.armAndStart(player, clock, timeline.trackIndex, timeline.positionSec, startShared, abort.signal);
      return;
    }
    await this.arming.waitShared(clock, startShared, abort.signal);
    if (abort.signal.aborted) return;
    if (timeline.state === 'paused') {
      await player.setPaused(true);
      this.phase = 'paused';
      this.pausedAt = null;
    } else {
      await this.ensureIdle(player);
    }
  }

  private async runSignal(player: Player, clock: ClockMapping, signal: SignalRequest): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    this.phase = 'calibrating';
    this.pausedAt = null;
    this.queue.clear();
    try {
      await this.signalPlayback.play(
        {
          player,
          clock,
          latencyOffsetMs: this.latencyOffsetMs,
          prepareMs: this.arming.prepareMs(),
          startLeadMs: this.follower.lead.ms,
          baseSpeed: this.follower.baseSpeed(),
          signal: abort.signal,
        },
        signal,
      );
    } finally {
      await player.stop().catch(() => {});
      this.queue.clear();
      this.phase = 'idle';
    }
  }

  private async runProbe(player: Player, file: ProbeFile): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    this.queue.clear();
    this.probing = true;
    try {
      const r = await this.probe.run(player, this.follower.lead, this.follower.blocks, file, abort.signal, () => this.probeMayRun());
      // Cut short by a start: the rest is measured the next time nothing is to be heard for a while
      // (not when a calibration signal cut it: see playSignal).
      this.probePending = r.cutShort && !this.pendingSignal;
    } finally {
      this.probing = false;
      this.queue.clear();
      this.phase = this.player ? 'idle' : 'down';
    }
  }

  /**
   * Whether the start probe may begin a round now: nothing is to be heard (no timeline playing or
   * paused in force) and no start is due before one more round and the arming for it. Without a
   * clock estimate yet, timelines cannot be placed in time: only a stopped party leaves it room.
   */
  private probeMayRun(): boolean {
    const clock = this.opts.clock();
    if (!clock) {
      const latest = this.history.latest();
      return latest === null || latest.state === 'stopped';
    }
    const t = this.target(clock.toShared(this.time.now()));
    const current = this.history.effective(t);
    if (current && current.state !== 'stopped') return false;
    const upcoming = this.history.upcoming(t);
    return !upcoming || upcoming.at - t > this.arming.prepareMs() + this.t.probeRoundMs;
  }

  /** Whether `next` puts the playhead where the timeline in force already would at its instant. */
  private continues(next: Timeline, startShared: SharedMs): boolean {
    const t = sharedMs(startShared + this.latencyOffsetMs);
    const before = this.history.effective(sharedMs(t - 1e-6));
    if (!before) return false;
    const a = playheadAt(before, this.tracks, t);
    const b = playheadAt(next, this.tracks, t);
    return a.state === 'playing' && b.state === 'playing' && a.trackIndex === b.trackIndex && Math.abs(a.positionSec - b.positionSec) < this.t.samePositionSec && this.queue.loaded() === a.trackIndex;
  }

  /**
   * Loads `trackIndex` paused at the position it will have at shared instant `startShared`,
   * waits for that instant, and unpauses. If the instant is too close, a later one is chosen.
   */
  private async armAndStart(player: Player, clock: ClockMapping, trackIndex: number, positionSec: number, startShared: SharedMs, signal: AbortSignal): Promise<void> {
    const file = this.opts.files.file(trackIndex);
    if (!file || file.status !== 'ok' || !file.absPath) return this.silence(player, trackIndex);
    this.phase = 'loading';
    const durationSec = this.tracks[trackIndex]?.durationSec ?? Infinity;
    await this.arming.armAndStart(
      player,
      clock,
      this.queue,
      this.follower,
      { trackIndex, path: file.absPath, durationSec, positionSec, startShared },
      signal,
      () => (this.phase = 'armed'),
      () => (this.phase = 'playing'),
    );
  }

  private async follow(player: Player, clock: ClockMapping, timeline: Timeline, trackIndex: number, positionSec: number): Promise<void> {
    const file = this.opts.files.file(trackIndex);
    if (file?.status !== 'ok') return this.silence(player, trackIndex);

    if (this.phase === 'playing') {
      // Did the player move on to the queued track?
      await this.queue.followAdvance(player);
      const loaded = this.queue.loaded();
      if (nearBoundary(timeline, this.tracks, trackIndex, positionSec, this.target(clock.toShared(this.time.now())), this.t.boundaryGraceSec * 1000)) return;
      if (loaded === trackIndex) {
        const outcome = await this.follower.correct({ player, clock, timeline, tracks: this.tracks, loadedTrack: this.queue.loaded(), silenceBeforeSec: this.queue.silenceBeforeSec(), latencyOffsetMs: this.latencyOffsetMs });
        if (outcome === 'rearm') this.phase = 'idle';
        return;
      }
    }
    if (this.phase === 'silent' && this.pausedAt?.track === trackIndex) return;
    // Not playing the right thing: start it at a near instant.
    const startShared = sharedMs(clock.toShared(this.time.now()) + this.arming.prepareMs());
    const at = playheadAt(timeline, this.tracks, this.target(startShared));
    if (at.state !== 'playing') return;
    this.opts.log.info(`starting track ${at.trackIndex + 1} at ${at.positionSec.toFixed(3)} s`);
    const abort = new AbortController();
    this.abort = abort;
    await this.armAndStart(player, clock, at.trackIndex, at.positionSec, startShared, abort.signal);
  }

  private async ensurePaused(player: Player, trackIndex: number, positionSec: number): Promise<void> {
    const file = this.opts.files.file(trackIndex);
    if (!file || file.status !== 'ok' || !file.absPath) return this.silence(player, trackIndex);
    if (this.phase === 'paused' && this.pausedAt && this.pausedAt.track === trackIndex && Math.abs(this.pausedAt.positionSec - positionSec) < this.t.pausedPositionSec) return;
    await player.setPaused(true);
    await this.queue.loadAt(player, trackIndex, file.absPath, positionSec);
    await this.queue.queueNext(player);
    this.phase = 'paused';
    this.pausedAt = { track: trackIndex, positionSec };
  }

  private async ensureIdle(player: Player): Promise<void> {
    if (this.phase === 'idle' && this.queue.empty) return;
    await player.stop();
    this.queue.clear();
    this.phase = 'idle';
    this.pausedAt = null;
  }

  /** This device lacks the right file for `trackIndex`: stay silent rather than play the wrong audio. */
  private async silence(player: Player, trackIndex: number): Promise<void> {
    if (this.phase === 'silent' && this.pausedAt?.track === trackIndex) return;
    // The state that silences it, read before anything is awaited: a verdict that lands meanwhile
    // differs from it, and the next tick tries again.
    const reason = this.fileState(trackIndex);
    await player.stop();
    this.queue.clear();
    this.phase = 'silent';
    this.pausedAt = { track: trackIndex, positionSec: 0 };
    this.silentFor = reason;
    // Playable by now (its verdict came while this was decided): the next tick starts it.
    if (this.opts.files.file(trackIndex)?.status === 'ok') return this.filesChanged();
    this.opts.log.warn(`silent for track ${trackIndex + 1}: file ${reason}`);
  }

  /** "missing (reason)": what the file check says of a track's file here. */
  private fileState(trackIndex: number): string {
    const file = this.opts.files.file(trackIndex);
    return `${file?.status ?? 'unknown'}${file?.detail ? ` (${file.detail})` : ''}`;
  }
}
