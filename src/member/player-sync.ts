/**
 * Makes this device's mpv follow the leader's timeline.
 *
 * Every tick (100 ms) it asks: under the timeline in force at (shared now + latency offset),
 * which track and position should be audible? Then:
 * - a timeline announced for a future instant is prepared ahead ("armed": paused, loaded and
 *   seeked exactly) and unpaused at that instant with a precise wait;
 * - while playing, mpv's `audio-pts` (the position of the sample leaving the audio device now,
 *   stamped at the midpoint of its IPC round trip) is compared with the timeline and the
 *   SpeedController turns the error into a speed nudge, or asks for a re-arm when it is large;
 * - tracks follow one another inside mpv (gapless, the next one appended), and anything else
 *   (a late join, a dead mpv, a missing file) is repaired by re-arming at a near instant.
 * A member with a latency offset L plays the timeline L ms early, so its sound, delayed by its
 * output device, lines up with the others'.
 */
import { monotonicMs } from '../clock/monotonic.js';
import type { ClockMapping } from '../clock/clock-mapping.js';
import { waitUntilLocal } from '../clock/precise-wait.js';
import type { Logger } from '../log/logger.js';
import { TimelineHistory, nextTrackIndex, playheadAt, type StatusMessage, type Timeline, type Track } from '../protocol/index.js';
import type { MpvIpcClient } from './mpv/ipc-client.js';
import type { SupervisedMpv } from './mpv/supervised-mpv.js';
import type { FileCheck } from './file-check.js';
import { DEFAULT_SPEED_CONTROLLER, SpeedController, type SpeedControllerOptions } from './speed-controller.js';

export interface PlayerSyncOptions {
  mpv: SupervisedMpv;
  clock: () => ClockMapping | null;
  files: FileCheck;
  log: Logger;
  latencyOffsetMs: number;
  controller?: Partial<SpeedControllerOptions>;
  tickMs?: number;
  /** how long before an instant to start preparing when something is audible now */
  prepareMs?: number;
  /** readings whose IPC round trip exceeds this are discarded as untrustworthy */
  maxReadingRttMs?: number;
  /** called after each accepted reading (benchmarks and tests) */
  onReading?: (r: SyncReading) => void;
}

export interface SyncReading {
  /** local monotonic ms of the reading (midpoint of its IPC round trip) */
  localMs: number;
  /** the same instant on the shared clock, as this member estimates it */
  sharedMs: number;
  /** the latency offset in force (the member aims at the timeline position of sharedMs + this) */
  latencyOffsetMs: number;
  ipcRttMs: number;
  trackIndex: number;
  audioPtsSec: number;
  errorMs: number;
  speed: number;
}

type Phase = StatusMessage['playerState'];
/** A calibration signal: a file of `leadInSec` silence, then the sweep due at shared `atShared`. */
interface SignalRequest {
  atShared: number;
  path: string;
  durationSec: number;
  leadInSec: number;
}
/** Around a track boundary mpv switches files on its own; its readings are unreliable then. */
const BOUNDARY_GRACE_SEC = 0.6;

export class PlayerSync {
  private tracks: Track[] = [];
  private readonly history = new TimelineHistory();
  private client: MpvIpcClient | null = null;
  private phase: Phase = 'down';
  /** track indices in mpv's playlist, mirroring it */
  private entries: number[] = [];
  private busy = false;
  private stopped = false;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly controller: SpeedController;
  private lastReadingMs: number | null = null;
  private lastErrorMs: number | null = null;
  private currentSpeed = 1;
  private hardSeeks = 0;
  private retryAfterMs = 0;
  private pausedAt: { track: number; positionSec: number } | null = null;
  private latencyOffsetMs: number;
  /** the repeat mode of the timeline in force: decides which track mpv queues next */
  private repeat: Timeline['repeat'] = 'off';
  private output = { volume: 100, muted: false };
  /**
   * How much before its instant an unpause is sent so that the first sample leaves on time:
   * learned from the error of the first reading after each start (mpv's restart latency).
   */
  private startLeadMs = 0;
  private awaitingFirstReading = false;
  private startsMeasured = 0;
  private readonly recentRttsMs: number[] = [];
  /** how long recent arms (load or seek, paused, until playback-restart) took, ms */
  private readonly armDurationsMs: number[] = [];
  /** a calibration signal to play at a shared instant, then back to the timeline */
  private pendingSignal: SignalRequest | null = null;

  constructor(private readonly opts: PlayerSyncOptions) {
    this.controller = new SpeedController({ ...DEFAULT_SPEED_CONTROLLER, ...opts.controller });
    this.latencyOffsetMs = opts.latencyOffsetMs;
    opts.mpv.on('ready', (client: MpvIpcClient) => {
      this.client = client;
      this.phase = 'idle';
      this.entries = [];
      this.currentSpeed = 1;
      this.pausedAt = null;
      void this.applyOutput();
      this.poke();
    });
    opts.mpv.on('down', () => {
      this.client = null;
      this.phase = 'down';
      this.abort?.abort();
      opts.log.warn('mpv died; restarting it and rejoining the timeline');
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 100);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.abort?.abort();
  }

  setTracks(tracks: Track[]): void {
    this.tracks = tracks;
    this.entries = [];
    this.phase = this.client ? 'idle' : 'down';
    this.poke();
  }

  setTimeline(timeline: Timeline): void {
    if (!this.history.add(timeline)) return;
    // A new command cancels whatever was being prepared for an older one.
    this.abort?.abort();
    this.poke();
  }

  /**
   * Plays a calibration test signal (a WAV file) through this member's own player path at shared
   * instant `atShared` — shifted by the latency offset like music — then returns to the timeline.
   */
  playSignal(atShared: number, path: string, durationSec: number, leadInSec = 0): void {
    this.pendingSignal = { atShared, path, durationSec, leadInSec };
    this.abort?.abort();
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

  /** Volume (0–100) and mute, applied to mpv now and after every restart. */
  setOutput(volume: number, muted: boolean): void {
    if (volume === this.output.volume && muted === this.output.muted) return;
    this.output = { volume, muted };
    void this.applyOutput();
  }

  private async applyOutput(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await client.setProperty('volume', this.output.volume);
      await client.setProperty('mute', this.output.muted);
    } catch (e) {
      this.opts.log.warn(`cannot set volume: ${(e as Error).message}`);
    }
  }

  status(): Omit<StatusMessage, 'type' | 'clockOffsetMs' | 'rttMs' | 'clockSkewPpm' | 'fileStatus' | 'fileProblems'> {
    return {
      errorMs: this.phase === 'playing' ? this.lastErrorMs : null,
      speed: this.client ? this.currentSpeed : null,
      trackIndex: this.loadedTrack(),
      playerState: this.phase,
      latencyOffsetMs: this.latencyOffsetMs,
      volume: this.output.volume,
      muted: this.output.muted,
      hardSeeks: this.hardSeeks,
    };
  }

  /**
   * The largest IPC round trip a reading may have and still be trusted (its timestamp is off by
   * up to half of it). 1 ms on a quiet machine; on a loaded one most round trips grow, and
   * discarding nearly every reading would blind the controller, so the gate follows 2.5× the
   * recent median round trip, up to 4 ms. A configured maxReadingRttMs fixes it.
   */
  private readingGateMs(rttMs: number): number {
    this.recentRttsMs.push(rttMs);
    if (this.recentRttsMs.length > 50) this.recentRttsMs.shift();
    if (this.opts.maxReadingRttMs !== undefined) return this.opts.maxReadingRttMs;
    const sorted = [...this.recentRttsMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    return Math.min(4, Math.max(1, 2.5 * median));
  }

  /** Time to allow for arming before an instant: the configured minimum, or more if arms have been slow. */
  private prepareMs(): number {
    const slowest = this.armDurationsMs.length ? Math.max(...this.armDurationsMs) : 0;
    return Math.max(this.opts.prepareMs ?? 250, 1.5 * slowest + 50);
  }

  private poke(): void {
    setImmediate(() => void this.tick());
  }

  private loadedTrack(): number | null {
    return this.entries[0] ?? null;
  }

  /** Shared instant whose timeline position this device should be playing now. */
  private target(sharedNow: number): number {
    return sharedNow + this.latencyOffsetMs;
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.client || this.stopped) return;
    const clock = this.opts.clock();
    if (!clock || this.tracks.length === 0) return;
    if (monotonicMs() < this.retryAfterMs) return;
    this.busy = true;
    const client = this.client;
    try {
      await this.step(client, clock);
    } catch (e) {
      if (this.client === client && !this.stopped) {
        this.opts.log.warn(`player: ${(e as Error).message}`);
        this.phase = 'idle';
        this.retryAfterMs = monotonicMs() + 1000;
      }
    } finally {
      this.busy = false;
    }
  }

  private async step(client: MpvIpcClient, clock: ClockMapping): Promise<void> {
    if (this.pendingSignal) {
      const signal = this.pendingSignal;
      this.pendingSignal = null;
      return this.runSignal(client, clock, signal);
    }
    const sharedNow = clock.toShared(monotonicMs());
    const t = this.target(sharedNow);
    this.history.prune(t);
    const upcoming = this.history.upcoming(t);
    const current = this.history.effective(t);

    if (upcoming) {
      const leadMs = upcoming.at - t;
      const audible = this.phase === 'playing';
      if (!audible || leadMs <= this.prepareMs()) {
        await this.transition(client, clock, upcoming);
        return;
      }
    }
    if (!current) return this.ensureIdle(client);
    if (current.repeat !== this.repeat) {
      this.repeat = current.repeat;
      if (this.phase === 'playing' || this.phase === 'paused') await this.appendNext(client);
    }
    const here = playheadAt(current, this.tracks, t);
    if (here.state === 'stopped' || here.state === 'ended' || here.state === 'pending') return this.ensureIdle(client);
    if (here.state === 'paused') return this.ensurePaused(client, here.trackIndex, here.positionSec);
    return this.follow(client, clock, current, here.trackIndex, here.positionSec);
  }

  /** Prepares for `timeline` and switches to it exactly at its instant. */
  private async transition(client: MpvIpcClient, clock: ClockMapping, timeline: Timeline): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const startShared = timeline.at - this.latencyOffsetMs;
    if (timeline.state === 'playing') {
      const file = this.opts.files.file(timeline.trackIndex);
      if (file?.status !== 'ok') {
        await this.waitShared(clock, startShared, abort.signal);
        if (!abort.signal.aborted) await this.silence(client, timeline.trackIndex);
        return;
      }
      if (this.phase === 'playing' && this.continues(timeline, startShared)) {
        // Same sound either way (a repeat-mode change, a restated timeline): nothing to re-arm.
        await this.waitShared(clock, startShared, abort.signal);
        return;
      }
      const prepareAt = startShared - this.prepareMs();
      if (this.phase === 'playing') await this.waitShared(clock, prepareAt, abort.signal);
      if (abort.signal.aborted) return;
      await this.armAndStart(client, clock, timeline.trackIndex, timeline.positionSec, startShared, abort.signal);
      return;
    }
    await this.waitShared(clock, startShared, abort.signal);
    if (abort.signal.aborted) return;
    if (timeline.state === 'paused') {
      await client.setProperty('pause', true);
      this.phase = 'paused';
      this.pausedAt = null;
    } else {
      await this.ensureIdle(client);
    }
  }

  /**
   * Plays the calibration file so that the sweep (after `leadInSec` of silence) leaves when music
   * would: at `atShared` minus the latency offset, on mpv's `audio-pts` (the same position music is
   * held to). An unpause alone lands late by mpv's restart latency and the audio device's start
   * granularity (whole PulseAudio mixing blocks: 0, 10, 30 ms were seen), so the silence is used
   * to measure the error on audio-pts and remove it by briefly playing faster or slower (alignSignal).
   * If the request came too late for the whole lead-in, the file starts part-way into the silence.
   */
  private async runSignal(client: MpvIpcClient, clock: ClockMapping, signal: SignalRequest): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    this.phase = 'calibrating';
    this.pausedAt = null;
    try {
      const sweepShared = signal.atShared - this.latencyOffsetMs;
      const spareSec = (sweepShared - clock.toShared(monotonicMs()) - this.prepareMs()) / 1000;
      const skipSec = Math.max(0, Math.min(signal.leadInSec, signal.leadInSec - spareSec));
      const leadInSec = signal.leadInSec - skipSec;
      await client.setProperty('pause', true);
      const restart = client.waitForEvent('playback-restart', undefined, 10_000);
      restart.catch(() => {});
      await client.command(['loadfile', signal.path, 'replace', ...(skipSec > 0 ? [`start=${skipSec.toFixed(6)}`] : [])]);
      this.entries = [];
      await restart;
      const baseSpeed = 1 - this.controller.learnedDrift;
      await client.setProperty('speed', baseSpeed);
      // In the timeline's frame (shared + latency offset), as music: file position p is due at fileStart + p.
      const fileStartTarget = signal.atShared - signal.leadInSec * 1000;
      await this.waitShared(clock, sweepShared - leadInSec * 1000 - this.startLeadMs, abort.signal);
      if (abort.signal.aborted) return;
      const ended = client.waitForEvent('end-file', undefined, (signal.durationSec - skipSec) * 1000 + 5000);
      ended.catch(() => {});
      await client.setProperty('pause', false);
      const residualMs = await this.alignSignal(client, clock, fileStartTarget, sweepShared, baseSpeed, abort.signal);
      this.opts.log.info(`playing the calibration signal${residualMs === null ? '' : ` (timing ${residualMs >= 0 ? '+' : ''}${residualMs.toFixed(2)} ms)`}`);
      await ended;
    } finally {
      await client.command(['stop']).catch(() => {});
      this.entries = [];
      this.phase = 'idle';
    }
  }

  /**
   * During the signal's silent lead-in: reads the position error on audio-pts (the median of the
   * three readings with the shortest IPC round trips) and removes it by playing at base ± 10 %
   * (up to ± 90 % for a start that was far off) for a measured while — silence, so nothing is
   * heard — then lets the audio already buffered at the old speed play out before measuring
   * again. Returns the last error measured, ms (positive: ahead), or null if none.
   */
  private async alignSignal(client: MpvIpcClient, clock: ClockMapping, fileStartTarget: number, sweepShared: number, baseSpeed: number, signal: AbortSignal): Promise<number | null> {
    const SETTLE_MS = 450;
    const MIN_SLEW_MS = 300;
    const MAX_DEVIATION = 0.1;
    const TOLERANCE_MS = 0.05;
    const MAX_READING_RTT_MS = 3;
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
    let last: number | null = null;
    for (let round = 0; round < 6 && !signal.aborted; round++) {
      await sleep(SETTLE_MS);
      // The readings with the shortest IPC round trips (a loaded machine delays some replies by ms).
      const readings: { errMs: number; rttMs: number }[] = [];
      for (let i = 0; i < 12 && readings.filter((r) => r.rttMs <= 0.5).length < 3; i++) {
        try {
          const r = await client.timedGetProperty('audio-pts');
          readings.push({ errMs: r.value * 1000 - (clock.toShared(r.localMs) + this.latencyOffsetMs - fileStartTarget), rttMs: r.rttMs });
        } catch {
          /* not playing yet */
        }
        await sleep(10);
      }
      readings.sort((a, b) => a.rttMs - b.rttMs);
      const best = readings.slice(0, 3);
      if (best.length < 3 || best[2]!.rttMs > MAX_READING_RTT_MS) {
        this.opts.log.debug(`signal alignment: no readings with a round trip under ${MAX_READING_RTT_MS} ms`);
        continue;
      }
      const err = best.map((r) => r.errMs).sort((a, b) => a - b)[1]!;
      last = err;
      this.opts.log.debug(`signal alignment: error ${err.toFixed(3)} ms (round trips ${best.map((r) => r.rttMs.toFixed(2)).join(' ')} ms), ${(clock.toLocal(sweepShared) - monotonicMs()).toFixed(0)} ms to go`);
      if (Math.abs(err) < TOLERANCE_MS) break;
      // Only while the slewed audio is still silence: it plays out SETTLE_MS after it is made.
      const availableMs = clock.toLocal(sweepShared) - monotonicMs() - SETTLE_MS - 100;
      // Gently (±10 %) when there is time; a start that was far off (mpv opening the audio device
      // can take a few hundred ms) faster, in half the time left, so that another round can follow.
      let slewMs = Math.max(MIN_SLEW_MS, Math.abs(err) / MAX_DEVIATION);
      if (slewMs > availableMs / 2) slewMs = Math.max(MIN_SLEW_MS, Math.abs(err) / 0.9, availableMs / 2);
      if (slewMs > availableMs) break;
      const speed = baseSpeed * (1 - err / slewMs);
      await client.setProperty('speed', speed);
      await waitUntilLocal(monotonicMs() + slewMs, { signal }).catch(() => {});
      await client.setProperty('speed', baseSpeed);
    }
    return last;
  }

  /** Whether `next` puts the playhead where the timeline in force already would at its instant. */
  private continues(next: Timeline, startShared: number): boolean {
    const t = startShared + this.latencyOffsetMs;
    const before = this.history.effective(t - 1e-6);
    if (!before) return false;
    const a = playheadAt(before, this.tracks, t);
    const b = playheadAt(next, this.tracks, t);
    return a.state === 'playing' && b.state === 'playing' && a.trackIndex === b.trackIndex && Math.abs(a.positionSec - b.positionSec) < 0.0005 && this.loadedTrack() === a.trackIndex;
  }

  private async waitShared(clock: ClockMapping, sharedMs: number, signal: AbortSignal): Promise<void> {
    const local = clock.toLocal(sharedMs);
    if (local > monotonicMs()) {
      try {
        await waitUntilLocal(local, { signal });
      } catch {
        /* aborted */
      }
    }
  }

  /**
   * Loads `trackIndex` paused at the position it will have at shared instant `startShared`,
   * waits for that instant, and unpauses. If the instant is too close, a later one is chosen.
   */
  private async armAndStart(client: MpvIpcClient, clock: ClockMapping, trackIndex: number, positionSec: number, startShared: number, signal: AbortSignal): Promise<void> {
    const file = this.opts.files.file(trackIndex);
    if (!file || file.status !== 'ok' || !file.absPath) return this.silence(client, trackIndex);
    this.phase = 'loading';
    await client.setProperty('pause', true);
    const duration = this.tracks[trackIndex]?.durationSec ?? Infinity;
    // Arming can take longer than planned (a slow disk, a loaded CPU): then the instant has
    // passed, and unpausing now would start late. Instead move the start to a later instant
    // and seek again to the position the timeline has there.
    for (let attempt = 0; ; attempt++) {
      const armStarted = monotonicMs();
      await this.seekPaused(client, trackIndex, file.absPath, positionSec);
      this.armDurationsMs.push(monotonicMs() - armStarted);
      if (this.armDurationsMs.length > 8) this.armDurationsMs.shift();
      const spareMs = startShared - this.startLeadMs - clock.toShared(monotonicMs());
      if (spareMs > 5 || attempt >= 2 || signal.aborted) break;
      const later = clock.toShared(monotonicMs()) + this.prepareMs();
      const laterPosition = positionSec + (later - startShared) / 1000;
      if (laterPosition >= duration) break;
      this.opts.log.debug(`arming took too long (${(-spareMs).toFixed(0)} ms late): starting at a later instant`);
      positionSec = laterPosition;
      startShared = later;
    }
    await this.appendNext(client);
    this.controller.rearmed();
    this.currentSpeed = 1 - this.controller.learnedDrift;
    await client.setProperty('speed', this.currentSpeed);
    if (signal.aborted) return;
    this.phase = 'armed';
    await this.waitShared(clock, startShared - this.startLeadMs, signal);
    if (signal.aborted) return;
    await client.setProperty('pause', false);
    this.phase = 'playing';
    this.lastReadingMs = null;
    this.awaitingFirstReading = true;
  }

  /** Loads (or seeks within) `trackIndex` paused at exactly `positionSec`, until mpv has restarted there. */
  private async seekPaused(client: MpvIpcClient, trackIndex: number, absPath: string, positionSec: number): Promise<void> {
    const restart = client.waitForEvent('playback-restart', undefined, 10_000);
    restart.catch(() => {});
    if (this.loadedTrack() === trackIndex) {
      await client.command(['seek', positionSec, 'absolute+exact']);
    } else {
      await client.command(['loadfile', absPath, 'replace', `start=${positionSec.toFixed(6)}`]);
      this.entries = [trackIndex];
    }
    await restart;
  }

  /** Queues the track that follows (as the timeline's repeat mode says) so it plays on without a gap. */
  private async appendNext(client: MpvIpcClient): Promise<void> {
    while (this.entries.length > 1) {
      await client.command(['playlist-remove', this.entries.length - 1]);
      this.entries.pop();
    }
    const loaded = this.loadedTrack();
    if (loaded === null) return;
    const next = nextTrackIndex(this.repeat, loaded, this.tracks.length);
    const file = next === null ? null : this.opts.files.file(next);
    if (next !== null && file?.status === 'ok' && file.absPath) {
      await client.command(['loadfile', file.absPath, 'append']);
      this.entries.push(next);
    }
  }

  private async follow(client: MpvIpcClient, clock: ClockMapping, timeline: Timeline, trackIndex: number, positionSec: number): Promise<void> {
    const file = this.opts.files.file(trackIndex);
    if (file?.status !== 'ok') return this.silence(client, trackIndex);

    if (this.phase === 'playing') {
      // Did mpv move on to the queued track?
      const pos = (await client.getProperty<number>('playlist-pos')) ?? -1;
      if (pos > 0 && this.entries.length > 1) {
        await client.command(['playlist-remove', 0]);
        this.entries.shift();
        this.opts.log.debug(`playing track ${(this.loadedTrack() ?? 0) + 1}`);
        await this.appendNext(client);
      } else if (pos < 0) {
        this.entries = [];
      }
      const loaded = this.loadedTrack();
      if (this.nearBoundary(timeline, trackIndex, positionSec, this.target(clock.toShared(monotonicMs())))) return;
      if (loaded === trackIndex) {
        await this.correct(client, clock, timeline);
        return;
      }
    }
    if (this.phase === 'silent' && this.pausedAt?.track === trackIndex) return;
    // Not playing the right thing: start it at a near instant.
    const startShared = clock.toShared(monotonicMs()) + this.prepareMs();
    const at = playheadAt(timeline, this.tracks, startShared + this.latencyOffsetMs);
    if (at.state !== 'playing') return;
    this.opts.log.info(`starting track ${at.trackIndex + 1} at ${at.positionSec.toFixed(3)} s`);
    const abort = new AbortController();
    this.abort = abort;
    await this.armAndStart(client, clock, at.trackIndex, at.positionSec, startShared, abort.signal);
  }

  /**
   * Whether the timeline crosses from one track into the next (by auto-advance) within the grace
   * period around now: a playhead that is not continuous over ±grace around `positionSec`.
   */
  private nearBoundary(timeline: Timeline, trackIndex: number, positionSec: number, targetMs: number): boolean {
    const graceMs = BOUNDARY_GRACE_SEC * 1000;
    const before = playheadAt(timeline, this.tracks, targetMs - graceMs);
    const after = playheadAt(timeline, this.tracks, targetMs + graceMs);
    const crossedBefore = before.state === 'playing' && (before.trackIndex !== trackIndex || before.positionSec > positionSec);
    const crossesAfter = after.state !== 'playing' || after.trackIndex !== trackIndex || after.positionSec < positionSec;
    return crossedBefore || crossesAfter;
  }

  /** One controller step: measure the error and nudge the speed, or re-arm when it is large. */
  private async correct(client: MpvIpcClient, clock: ClockMapping, timeline: Timeline): Promise<void> {
    let reading;
    try {
      reading = await client.timedGetProperty('audio-pts');
    } catch {
      return; // no audio position yet (just started, or between files)
    }
    if (reading.rttMs > this.readingGateMs(reading.rttMs)) return;
    const sharedAt = clock.toShared(reading.localMs);
    const expected = playheadAt(timeline, this.tracks, this.target(sharedAt));
    if (expected.state !== 'playing' || expected.trackIndex !== this.loadedTrack()) return;
    const errorSec = reading.value - expected.positionSec;
    const dtSec = this.lastReadingMs === null ? 0.1 : (reading.localMs - this.lastReadingMs) / 1000;
    this.lastReadingMs = reading.localMs;
    this.lastErrorMs = errorSec * 1000;
    if (this.awaitingFirstReading) {
      // The first reading after a start shows how late the unpause took effect (mpv's restart
      // and the output's start-up): start that much earlier next time. The first start sets the
      // lead outright; later ones move it halfway, so one noisy start does not throw it off.
      this.awaitingFirstReading = false;
      if (Math.abs(this.lastErrorMs) < 30) {
        const gain = this.startsMeasured === 0 ? 1 : 0.5;
        this.startLeadMs = Math.min(50, Math.max(0, this.startLeadMs - gain * this.lastErrorMs));
        this.startsMeasured += 1;
      }
    }
    const decision = this.controller.update(errorSec, dtSec);
    if (decision.action === 'hard-seek') {
      this.hardSeeks += 1;
      this.opts.log.info(`off by ${(errorSec * 1000).toFixed(1)} ms: re-syncing with an exact seek`);
      this.phase = 'idle';
      return;
    }
    if (Math.abs(decision.speed - this.currentSpeed) > 1e-7) {
      await client.setProperty('speed', decision.speed);
      this.currentSpeed = decision.speed;
    }
    this.opts.onReading?.({ localMs: reading.localMs, sharedMs: sharedAt, latencyOffsetMs: this.latencyOffsetMs, ipcRttMs: reading.rttMs, trackIndex: expected.trackIndex, audioPtsSec: reading.value, errorMs: errorSec * 1000, speed: this.currentSpeed });
  }

  private async ensurePaused(client: MpvIpcClient, trackIndex: number, positionSec: number): Promise<void> {
    const file = this.opts.files.file(trackIndex);
    if (!file || file.status !== 'ok' || !file.absPath) return this.silence(client, trackIndex);
    if (this.phase === 'paused' && this.pausedAt && this.pausedAt.track === trackIndex && Math.abs(this.pausedAt.positionSec - positionSec) < 0.001) return;
    await client.setProperty('pause', true);
    await this.seekPaused(client, trackIndex, file.absPath, positionSec);
    await this.appendNext(client);
    this.phase = 'paused';
    this.pausedAt = { track: trackIndex, positionSec };
  }

  private async ensureIdle(client: MpvIpcClient): Promise<void> {
    if (this.phase === 'idle' && this.entries.length === 0) return;
    await client.command(['stop']);
    this.entries = [];
    this.phase = 'idle';
    this.pausedAt = null;
  }

  /** This device lacks the right file for `trackIndex`: stay silent rather than play the wrong audio. */
  private async silence(client: MpvIpcClient, trackIndex: number): Promise<void> {
    if (this.phase === 'silent' && this.pausedAt?.track === trackIndex) return;
    await client.command(['stop']);
    this.entries = [];
    this.phase = 'silent';
    this.pausedAt = { track: trackIndex, positionSec: 0 };
    const file = this.opts.files.file(trackIndex);
    this.opts.log.warn(`silent for track ${trackIndex + 1}: file ${file?.status ?? 'unknown'}${file?.detail ? ` (${file.detail})` : ''}`);
  }
}
