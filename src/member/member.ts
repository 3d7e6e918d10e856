/**
 * A member: one supervised mpv, a link to the leader, the file check, the fetcher that gets the
 * files it lacks from the leader, and the player sync that makes mpv follow the leader's timeline.
 */
import type { ClockMapping } from '../clock/clock-mapping.js';
import { monotonicMs } from '../clock/monotonic.js';
import type { Logger } from '../log/logger.js';
import { nextTrackIndex, playheadAt, type PlaylistInfo, type Timeline, type Track } from '../protocol/index.js';
import { describeProgress } from '../playlist/progress.js';
import { ScanCache } from '../playlist/scan-cache.js';
import { FileCheck } from './file-check.js';
import { FileCache } from './fetch/file-cache.js';
import { Fetcher } from './fetch/fetcher.js';
import { PlaylistCopy } from './playlist-copy.js';
import { memberStatus } from './member-status.js';
import { LeaderLink } from './leader-link.js';
import { MpvPlayerHost } from './mpv/mpv-player.js';
import { SupervisedMpv } from './mpv/supervised-mpv.js';
import { prerollSilenceFor, warmUpPrerollSilence } from './preroll-silence.js';
import { signalFile, silenceFile } from './signal-file.js';
import { PlayerSync, type SyncReading } from './sync/player-sync.js';
import type { SoundControllerOptions } from './sound-controller.js';

export interface MemberOptions {
  host: string;
  port: number;
  musicDir: string;
  name: string;
  secret: string | null;
  /** this device's stable id (device-id.ts); without one the leader cannot tell a return from a stranger */
  deviceId?: string;
  audioDevice?: string;
  mpvArgs: string[];
  mpvPath?: string;
  latencyOffsetMs: number;
  version: string;
  log: Logger;
  controller?: Partial<SoundControllerOptions>;
  /** this device's NTP clock (--ntp), started by the caller */
  ntp?: ClockMapping | null;
  onReading?: (r: SyncReading) => void;
  /** fetch the files this member lacks from the leader into a cache (null: never fetch) */
  fetch?: { cacheDir: string; cacheBytes: number; syncMusic: boolean } | null;
  /** the scan cache shared with a leader on this machine (default: the user's; null: none) */
  cache?: ScanCache | null;
}

/** mpv options every member needs: exact seeks, so an armed start lands on the sample. */
const MEMBER_MPV_ARGS = ['--hr-seek=yes', '--audio-display=no'];
/** Silence before the calibration sweep, in which the player brings its timing onto the instant. */
const SIGNAL_LEAD_IN_SEC = 4;
/** Tracks after the current one that are checked first, so the auto-advance finds them verified. */
const CHECK_AHEAD_TRACKS = 2;
/** While checking, a progress line this often. */
const CHECK_LOG_EVERY_MS = 2000;

export class Member {
  readonly mpv: SupervisedMpv;
  readonly link: LeaderLink;
  readonly files: FileCheck;
  readonly sync: PlayerSync;
  readonly fetcher: Fetcher | null;
  private timeline: Timeline | null = null;
  private copy: PlaylistCopy | null = null;
  private checkLog: NodeJS.Timeout | null = null;

  constructor(private readonly opts: MemberOptions) {
    const log = opts.log;
    this.files = new FileCheck(opts.musicDir, log, opts.cache === undefined ? new ScanCache() : opts.cache);
    this.mpv = new SupervisedMpv({
      ...(opts.mpvPath ? { mpvPath: opts.mpvPath } : {}),
      ...(opts.audioDevice ? { audioDevice: opts.audioDevice } : {}),
      extraArgs: [...MEMBER_MPV_ARGS, ...opts.mpvArgs],
      log: (m) => log.debug(`mpv: ${m}`),
    });
    this.mpv.on('restart-failed', (e: Error, delay: number) => log.warn(`mpv restart failed (${e.message}); retrying in ${(delay / 1000).toFixed(1)} s`));
    this.link = new LeaderLink({
      host: opts.host,
      port: opts.port,
      name: opts.name,
      secret: opts.secret,
      version: opts.version,
      log,
      ntp: opts.ntp ?? null,
      ...(opts.deviceId ? { deviceId: opts.deviceId } : {}),
      status: () => memberStatus(this.sync.status(), this.files, this.copy, this.fetcher),
    });
    this.sync = new PlayerSync({
      player: new MpvPlayerHost(this.mpv),
      clock: () => this.link.readyClock,
      files: this.files,
      log,
      latencyOffsetMs: opts.latencyOffsetMs,
      startProbe: silenceFile(),
      prerollSilence: prerollSilenceFor,
      ...(opts.controller ? { controller: opts.controller } : {}),
      ...(opts.onReading ? { onReading: opts.onReading } : {}),
    });
    this.fetcher = opts.fetch ? this.makeFetcher(opts.fetch) : null;
    this.link.on('welcome', (playlist, timeline) => {
      this.adoptPlaylist(playlist);
      this.follow(timeline);
      this.fetcher?.wake();
    });
    this.link.on('playlist', (playlist) => this.adoptPlaylist(playlist));
    this.link.on('playlist-page', (page) => {
      const copy = this.copy;
      if (!copy) return;
      const { filled, error } = copy.apply(page);
      if (error) log.warn(`leader sent a bad playlist page: ${error}`);
      if (filled > 0) this.files.tracksArrived(page.start, page.tracks.length);
      if (copy.complete && filled > 0) log.info(`playlist version ${copy.version}: all ${copy.info.count} tracks received`);
    });
    this.link.on('timeline', (timeline) => this.follow(timeline));
    // A track the player was waiting for is verified: let it start without waiting for a tick;
    // one that is not playable here may be fetched.
    this.files.onVerdict = (_index, file) => {
      this.sync.filesChanged();
      if (file.status !== 'ok') this.fetcher?.wake();
    };
    this.link.on('play-signal', (at, spec) => {
      try {
        const file = signalFile(spec, SIGNAL_LEAD_IN_SEC);
        this.sync.playSignal(at, file.path, file.durationSec, file.leadInSec);
      } catch (e) {
        log.warn(`cannot prepare the calibration signal: ${(e as Error).message}`);
      }
    });
    this.link.on('settings', (settings) => {
      this.sync.setOutput(settings.volume, settings.muted);
      this.sync.setLatencyOffset(settings.latencyOffsetMs ?? opts.latencyOffsetMs);
    });
  }

  /**
   * Begins following the leader and starts mpv (throws if it cannot be found). The link joins and
   * the clock exchange runs while mpv starts (~0.3 s): the sync takes the player when it is ready.
   */
  async start(): Promise<void> {
    warmUpPrerollSilence();
    this.sync.start();
    this.link.start();
    this.fetcher?.start();
    try {
      await this.mpv.start();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    if (this.checkLog) clearInterval(this.checkLog);
    await this.fetcher?.stop();
    this.link.stop();
    this.sync.stop();
    await this.mpv.stop();
  }

  private makeFetcher(o: NonNullable<MemberOptions['fetch']>): Fetcher {
    const cache = new FileCache(o.cacheDir, o.cacheBytes, this.opts.log);
    cache.open();
    return new Fetcher({
      cache,
      files: this.files,
      log: this.opts.log,
      name: this.opts.name,
      secret: this.opts.secret,
      source: () => this.link.filesSource(),
      position: () => this.position(),
      // A member silent for want of a file starts as soon as it is here; one that is playing
      // picks it up at its next track change.
      onSupplied: () => this.sync.filesChanged(),
      syncMusicDir: o.syncMusic ? this.opts.musicDir : null,
    });
  }

  /** Remembers the latest timeline (the fetcher orders by it) and wakes the fetcher on a track change. */
  private noteTimeline(timeline: Timeline): void {
    const before = this.position()?.trackIndex;
    this.timeline = timeline;
    if (this.position()?.trackIndex !== before) this.fetcher?.wake();
  }

  /** The track the timeline is at now (on the shared clock when there is one yet). */
  private position(): { trackIndex: number; repeat: Timeline['repeat'] } | null {
    const t = this.timeline;
    if (!t || this.tracks.length === 0) return null;
    const clock = this.link.readyClock;
    const here = clock ? playheadAt(t, this.tracks, clock.toShared(monotonicMs())) : null;
    const trackIndex = here && here.state !== 'ended' ? here.trackIndex : t.trackIndex;
    return { trackIndex, repeat: t.repeat };
  }

  /** The playlist as received so far (holes where pages have not arrived). */
  get tracks(): readonly (Track | undefined)[] {
    return this.copy?.tracks ?? [];
  }

  /**
   * A playlist announced by the leader: a different one replaces ours (and every timeline of the
   * old version is forgotten: its indices mean other tracks now); the same content under a new
   * version number (the leader restarted) keeps our copy, its checks and what is playing.
   */
  private adoptPlaylist(info: PlaylistInfo): void {
    const copy = this.copy;
    // A leader still scanning (version 0, no tracks) has no playlist yet: keep following ours.
    if (copy && info.version === 0 && info.count === 0) return;
    if (copy && copy.info.digest === info.digest && copy.info.count === info.count) {
      // The same tracks: the timelines we hold still mean the same sound.
      copy.renumber(info.version);
      return;
    }
    this.copy = new PlaylistCopy(info);
    this.sync.resetTimelines();
    this.timeline = null;
    this.sync.setTracks(this.copy.tracks);
    this.files.setPlaylist(this.copy.tracks);
    this.fetcher?.wake();
    if (this.checkLog) clearInterval(this.checkLog);
    const log = this.opts.log;
    const started = Date.now();
    this.checkLog = setInterval(() => {
      const view = this.files.progressView();
      if (view.phase === 'done' || this.files.total === 0) {
        if (this.checkLog) clearInterval(this.checkLog);
        this.checkLog = null;
      } else if (Date.now() - started >= CHECK_LOG_EVERY_MS) log.info(`${describeProgress(view)}; ${this.copy?.received ?? 0}/${info.count} tracks received`);
    }, CHECK_LOG_EVERY_MS);
    this.checkLog.unref();
  }

  /** A timeline for the playlist we hold goes to the player, its tracks to the front of the check. */
  private follow(timeline: Timeline): void {
    const copy = this.copy;
    if (!copy || timeline.playlistVersion !== copy.version) {
      this.opts.log.debug(`ignoring a timeline for playlist version ${timeline.playlistVersion} (this member holds ${copy?.version ?? 'none'})`);
      return;
    }
    const ahead = [timeline.trackIndex];
    for (let i = 0, k: number | null = timeline.trackIndex; i < CHECK_AHEAD_TRACKS && k !== null; i++) {
      k = nextTrackIndex(timeline.repeat, k, copy.info.count);
      if (k !== null) ahead.push(k);
    }
    this.files.prioritize(ahead);
    this.noteTimeline(timeline);
    this.sync.setTimeline(timeline);
  }
}
