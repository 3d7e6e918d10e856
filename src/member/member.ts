/**
 * A member: one supervised mpv, a link to the leader, the file check, and the player sync that
 * makes mpv follow the leader's timeline.
 */
import type { ClockMapping } from '../clock/clock-mapping.js';
import type { Logger } from '../log/logger.js';
import type { Track } from '../protocol/index.js';
import { FileCheck } from './file-check.js';
import { LeaderLink } from './leader-link.js';
import { SupervisedMpv } from './mpv/supervised-mpv.js';
import { signalFile } from './signal-file.js';
import { PlayerSync, type SyncReading } from './player-sync.js';
import type { SpeedControllerOptions } from './speed-controller.js';

export interface MemberOptions {
  host: string;
  port: number;
  musicDir: string;
  name: string;
  secret: string | null;
  audioDevice?: string;
  mpvArgs: string[];
  mpvPath?: string;
  latencyOffsetMs: number;
  version: string;
  log: Logger;
  controller?: Partial<SpeedControllerOptions>;
  /** this device's NTP clock (--ntp), started by the caller */
  ntp?: ClockMapping | null;
  onReading?: (r: SyncReading) => void;
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
  private tracks: Track[] = [];

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
      status: () => {
        const files = this.files.summary();
        return { ...this.sync.status(), fileStatus: files.status, fileProblems: files.problems };
      },
    });
    this.sync = new PlayerSync({
      mpv: this.mpv,
      clock: () => this.link.readyClock,
      files: this.files,
      log,
      latencyOffsetMs: opts.latencyOffsetMs,
      ...(opts.controller ? { controller: opts.controller } : {}),
      ...(opts.onReading ? { onReading: opts.onReading } : {}),
    });
    this.link.on('welcome', (tracks, timeline) => {
      void this.setTracks(tracks).then(() => this.sync.setTimeline(timeline));
    });
    this.link.on('playlist', (tracks) => void this.setTracks(tracks));
    this.link.on('timeline', (timeline) => this.sync.setTimeline(timeline));
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
  }

  async stop(): Promise<void> {
    this.link.stop();
    this.sync.stop();
    await this.mpv.stop();
  }

  private async setTracks(tracks: Track[]): Promise<void> {
    const same = tracks.length === this.tracks.length && tracks.every((t, i) => t.hash === this.tracks[i]?.hash && t.path === this.tracks[i]?.path);
    if (same) return;
    this.tracks = tracks;
    await this.files.check(tracks);
    const summary = this.files.summary();
    this.opts.log.info(`checked ${tracks.length} tracks: ${summary.problems.length === 0 ? 'all present and identical' : `${summary.problems.length} not playable here`}`);
    this.sync.setTracks(tracks);
  }
}
