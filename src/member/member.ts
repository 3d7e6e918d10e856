/**
 * A member: one supervised mpv, a link to the leader, the file check, the fetcher that gets the
 * files it lacks from the leader, and the player sync that makes mpv follow the leader's timeline.
 */
import type { ClockMapping } from '../clock/clock-mapping.js';
import { monotonicMs } from '../clock/monotonic.js';
import type { Logger } from '../log/logger.js';
import { playheadAt, type Timeline, type Track } from '../protocol/index.js';
import { FileCheck } from './file-check.js';
import { FileCache } from './fetch/file-cache.js';
import { Fetcher } from './fetch/fetcher.js';
import { LeaderLink } from './leader-link.js';
import { MpvPlayerHost } from './mpv/mpv-player.js';
import { SupervisedMpv } from './mpv/supervised-mpv.js';
import { signalFile } from './signal-file.js';
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
}

/** mpv options every member needs: exact seeks, so an armed start lands on the sample. */
const MEMBER_MPV_ARGS = ['--hr-seek=yes', '--audio-display=no'];
/** Silence before the calibration sweep, in which the player brings its timing onto the instant. */
const SIGNAL_LEAD_IN_SEC = 4;

export class Member {
  readonly mpv: SupervisedMpv;
  readonly link: LeaderLink;
  readonly files: FileCheck;
  readonly sync: PlayerSync;
  readonly fetcher: Fetcher | null;
  private tracks: Track[] = [];
  private timeline: Timeline | null = null;

  constructor(private readonly opts: MemberOptions) {
    const log = opts.log;
    this.files = new FileCheck(opts.musicDir, log);
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
      status: () => {
        const files = this.files.summary();
        return { ...this.sync.status(), fileStatus: files.status, fileProblems: files.problems, ...(this.fetcher ? { fetch: this.fetcher.progress() } : {}) };
      },
    });
    this.sync = new PlayerSync({
      player: new MpvPlayerHost(this.mpv),
      clock: () => this.link.readyClock,
      files: this.files,
      log,
      latencyOffsetMs: opts.latencyOffsetMs,
      ...(opts.controller ? { controller: opts.controller } : {}),
      ...(opts.onReading ? { onReading: opts.onReading } : {}),
    });
    this.fetcher = opts.fetch ? this.makeFetcher(opts.fetch) : null;
    this.link.on('welcome', (tracks, timeline) => {
      this.noteTimeline(timeline);
      void this.setTracks(tracks).then(() => this.sync.setTimeline(timeline));
      this.fetcher?.wake();
    });
    this.link.on('playlist', (tracks) => void this.setTracks(tracks));
    this.link.on('timeline', (timeline) => {
      this.noteTimeline(timeline);
      this.sync.setTimeline(timeline);
    });
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

  /** Starts mpv (throws if it cannot be found) and begins following the leader. */
  async start(): Promise<void> {
    await this.mpv.start();
    this.sync.start();
    this.link.start();
    this.fetcher?.start();
  }

  async stop(): Promise<void> {
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
      // A member silent for want of a file starts as soon as it is here (setTracks re-evaluates
      // the same playlist); one that is playing picks it up at its next track change.
      onSupplied: () => {
        if (this.sync.status().playerState === 'silent') this.sync.setTracks(this.tracks);
      },
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

  private async setTracks(tracks: Track[]): Promise<void> {
    const same = tracks.length === this.tracks.length && tracks.every((t, i) => t.hash === this.tracks[i]?.hash && t.path === this.tracks[i]?.path);
    if (same) return;
    this.tracks = tracks;
    const checked = this.files.check(tracks);
    this.fetcher?.wake();
    await checked;
    this.fetcher?.wake();
    const summary = this.files.summary();
    this.opts.log.info(`checked ${tracks.length} tracks: ${summary.problems.length === 0 ? 'all present and identical' : `${summary.problems.length} not playable here`}`);
    this.sync.setTracks(tracks);
  }
}
