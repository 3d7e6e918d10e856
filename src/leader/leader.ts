/**
 * The leader: owns the playlist and the timeline, accepts members over TCP, answers their
 * time exchanges, and turns commands into new timelines effective at a future shared instant.
 * The shared clock is this process's monotonic clock (monotonicMs()), or UTC through NTP when
 * started with --ntp (`opts.clock`).
 */
import { createServer, type Server } from 'node:net';
import { monotonicMs } from '../clock/monotonic.js';
import { sharedMs, wallNow, type LocalMs, type SharedMs } from '../clock/time.js';
import type { Logger } from '../log/logger.js';
import { playheadAt, PlaylistPages, sendToAll, type FetchProgressMessage, type LeaderMessage, type MemberSettings, type RepeatMode, type Timeline, type Track } from '../protocol/index.js';
import type { ProgressView } from '../playlist/progress.js';
import { FileServer, type FileServerStats } from './file-server.js';
import { PartyAccess, type PairingStatus } from '../party/party-access.js';
import { partyIdOf } from '../party/party-secret.js';
import { MemberSession, type CalibratorRequest } from './member-session.js';
import { HeartbeatPacer } from './heartbeat-pacer.js';
import { EXCHANGE_PACE, exchangePaceMs } from './exchange-pace.js';
import { MemberSettingsStore } from './member-settings-store.js';
import { DEFAULT_LIMITS, type LeaderLimits } from './limits.js';
import { currentBootId, playlistDigest, resumeFrom, type PartyState, type PartyStateStore } from './party-state.js';
import { applyCommand, normalizeTimeline, type Command } from './timeline-commands.js';

export interface LeaderOptions {
  host: string;
  port: number;
  /** the playlist to start with; [] while it is still being scanned (see publishPlaylist) */
  tracks: Track[];
  secret: string | null;
  /** the party's name in discovery and handshakes (default "syncplay") */
  partyName?: string;
  /** where paired members are remembered (null or absent: in memory only) */
  stateDir?: string | null;
  /** minimum time between a command and its instant; the slowest member's round trip is added */
  leadMs: number;
  /**
   * …but a command that starts a track's beginning from silence (PLAY when stopped, a jump while
   * paused) is set at least this far ahead, ms (default leadMs): members then have time to pre-roll
   * the start on silence and align it before it is heard (member/sync/start-arming.ts)
   */
  startLeadMs?: number;
  version: string;
  log: Logger;
  heartbeatMs?: number;
  /** how many time exchanges the leader asks for in a large party (exchange-pace.ts) */
  exchangePace?: Partial<typeof EXCHANGE_PACE>;
  /** what follows the last track (default 'off': the playlist ends) */
  repeat?: RepeatMode;
  /** the shared clock in ms (default: this process's monotonic clock) */
  clock?: () => SharedMs;
  /** 'utc' when `clock` is UTC through NTP */
  clockKind?: 'monotonic' | 'utc';
  /** where per-member settings are remembered (null: not remembered) */
  settingsFile?: string | null;
  /** serve the playlist's files to members that lack them (null: don't) */
  files?: { musicDir: string; port: number; rateBytesPerSec: number } | null;
  /** caps and timeouts (limits.ts); any left out take the defaults */
  limits?: Partial<LeaderLimits>;
  /** where the party (timeline, playlist order) is kept across restarts, and what was saved there */
  party?: { store: PartyStateStore; saved: PartyState | null; shuffleSeed: string | null };
}

export interface MemberView {
  id: string;
  name: string;
  address: string;
  connected: boolean;
  clockOffsetMs: number | null;
  rttMs: number | null;
  clockSkewPpm: number | null;
  errorMs: number | null;
  speed: number | null;
  playerState: string;
  fileStatus: string;
  fileProblems: { index: number; status: string }[];
  /** the playlist version the member holds, tracks of it received, files checked of the total */
  playlistVersion: number | null;
  tracksReceived: number | null;
  filesChecked: number | null;
  filesTotal: number | null;
  latencyOffsetMs: number | null;
  volume: number;
  muted: boolean;
  hardSeeks: number;
  trackIndex: number | null;
  statusAgeMs: number | null;
  /** the member's fetch of files it lacks, if it is fetching */
  fetch?: FetchProgressMessage | null;
}

export interface LeaderStatus {
  now: number;
  timeline: Timeline;
  playhead: ReturnType<typeof playheadAt>;
  track: Track | null;
  /** every track (for the in-process UI; `syncplay ctl status` leaves it out unless --tracks) */
  tracks: readonly Track[];
  /** the playlist in force: its version, length and total duration */
  playlist: { version: number; count: number; durationSec: number };
  /** the music dir scan while it runs or after it ended, null when there was none */
  scan: ProgressView | null;
  members: MemberView[];
  listening: { host: string; port: number };
  /** the next scheduled start and stop (ISO 8601 wall-clock times), when schedules are set */
  schedule: { nextStart: string | null; nextStop: string | null };
  repeat: RepeatMode;
  /** the file server for members that lack files (null: not serving) */
  files?: { port: number; rateBytesPerSec: number; stats: FileServerStats } | null;
  /** the party: name, public id, whether it is open, and (unless open) the join code and paired members */
  party: { name: string; id: string | null; open: boolean; pairing: PairingStatus | null };
  /** the web remote's link (with its token), when it is on */
  web: { url: string } | null;
}

export type ScheduleInfo = () => { nextStart: Date | null; nextStop: Date | null };

/** Members that went away stay listed as lost for this long. */
const LOST_MEMBER_RETENTION_MS = 10 * 60_000;
/** The slowest member's round trip is added to a command's lead, up to this. */
const MAX_RTT_LEAD_MS = 1000;

export class Leader {
  private server: Server | null = null;
  private timeline: Timeline;
  private readonly sessions = new Set<MemberSession>();
  private readonly lost = new Map<string, { view: MemberView; lostAt: LocalMs }>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** each member's heartbeat (leaderMs and the timeline), spread over the interval */
  private readonly heartbeats: HeartbeatPacer<MemberSession>;
  private nextId = 1;
  private readonly settings: MemberSettingsStore;
  private scheduleInfo: ScheduleInfo = () => ({ nextStart: null, nextStop: null });
  private fileServer: FileServer | null = null;
  readonly limits: LeaderLimits;
  private readonly exchangePace: typeof EXCHANGE_PACE;
  private webInfo: { url: string } | null = null;
  private scanProgress: () => ProgressView | null = () => null;
  private pages: PlaylistPages;
  private playlistDurationSec: number;
  port = 0;
  /** who may join: the party secret, the paired members, the join code */
  readonly access: PartyAccess;
  /** Now on the shared clock, ms. */
  readonly now: () => SharedMs;

  constructor(private readonly opts: LeaderOptions) {
    // Without NTP this process's monotonic clock is the shared clock: members map theirs onto it.
    this.now = opts.clock ?? (() => sharedMs(monotonicMs()));
    this.pages = new PlaylistPages(opts.tracks.length > 0 ? 1 : 0, opts.tracks);
    this.playlistDurationSec = totalDuration(opts.tracks);
    this.timeline = { seq: 0, state: 'stopped', trackIndex: 0, positionSec: 0, at: this.now(), repeat: opts.repeat ?? 'off', playlistVersion: this.pages.info.version };
    this.settings = new MemberSettingsStore(opts.settingsFile ?? null, opts.log);
    const party = { name: opts.partyName ?? 'syncplay', ...(opts.secret !== null ? { id: partyIdOf(opts.secret) } : {}) };
    this.access = new PartyAccess(party, opts.secret, opts.stateDir ?? null, opts.log);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.exchangePace = { ...EXCHANGE_PACE, ...opts.exchangePace };
    this.digest = playlistDigest(opts.tracks);
    this.shuffleSeed = opts.party?.shuffleSeed ?? null;
    if (opts.tracks.length > 0) this.resumeParty();
    this.heartbeats = new HeartbeatPacer(opts.heartbeatMs ?? 1000, () => this.sessions, () => JSON.stringify({ type: 'heartbeat', leaderMs: this.now(), timeline: this.timeline } satisfies LeaderMessage) + '\n');
  }

  /**
   * Once there is a playlist: the saved party continues if it was saved with this playlist (see
   * party-state.ts). Tried once, for the first playlist (given at construction or published
   * after the scan).
   */
  private resumeParty(): void {
    const opts = this.opts;
    if (!opts.party || this.resumeTried) return;
    this.resumeTried = true;
    const resume = resumeFrom(opts.party.saved, { digest: this.digest, clockKind: opts.clockKind ?? 'monotonic', bootId: this.bootId, wallMs: wallNow(), sharedMs: this.now() }, this.tracks);
    if (resume.kind === 'none') {
      if (opts.party.saved) opts.log.info(`not resuming the saved party: ${resume.reason}`);
      else this.adoptable = true;
    } else {
      this.timeline = { ...resume.timeline, playlistVersion: this.pages.info.version };
      this.restored = true;
      opts.log.info(`resuming the party${resume.kind === 'paused' ? ' paused (the shared clock is not the one it was saved with)' : ''}: ${this.describeTimeline()} (timeline #${this.timeline.seq})`);
    }
  }

  private digest: string;
  private shuffleSeed: string | null;
  private readonly bootId = currentBootId();
  private restored = false;
  /** no saved party was found and nothing was commanded yet: a returning member's timeline may be taken */
  private adoptable = false;
  /** a member that offered its timeline while the playlist was still being scanned */
  private pendingAdoption: MemberSession | null = null;
  private resumeTried = false;

  /** A change of the timeline, saved at once (command() alone sends to the members first, then saves): the saved party is never behind. */
  private setTimeline(t: Timeline, stopped = false): void {
    this.timeline = t;
    this.saveParty(stopped);
  }

  private saveParty(stopped = false): void {
    const t = this.timeline;
    // No playlist yet (still scanning): nothing worth saving over the party saved before.
    if (this.tracks.length === 0) return;
    this.opts.party?.store.save({
      version: 1,
      playlistDigest: this.digest,
      shuffleSeed: this.shuffleSeed,
      clockKind: this.opts.clockKind ?? 'monotonic',
      bootId: this.bootId,
      timeline: t,
      savedAtWallMs: wallNow(),
      savedAtSharedMs: this.now(),
      stopped,
    });
  }

  get tracks(): readonly Track[] {
    return this.pages.tracks;
  }

  get playlistVersion(): number {
    return this.pages.info.version;
  }

  /**
   * Makes `tracks` the playlist: a new version, announced to every member with its pages. The
   * timeline stops at the first track of the new version (the old indices mean other tracks).
   */
  publishPlaylist(tracks: Track[], shuffleSeed: string | null = this.shuffleSeed): void {
    this.pages = new PlaylistPages(this.pages.info.version + 1, tracks);
    this.playlistDurationSec = totalDuration(tracks);
    this.digest = playlistDigest(tracks);
    this.shuffleSeed = shuffleSeed;
    const t = this.timeline;
    this.timeline = { seq: t.seq + 1, state: 'stopped', trackIndex: 0, positionSec: 0, at: this.now(), repeat: t.repeat, playlistVersion: this.pages.info.version };
    this.resumeParty();
    this.setTimeline(this.timeline);
    const offered = this.pendingAdoption;
    this.pendingAdoption = null;
    if (offered?.isOpen) this.maybeAdopt(offered);
    for (const s of this.liveMembers()) s.sendPlaylist(this.pages, this.timeline.trackIndex);
    this.broadcast({ type: 'timeline', timeline: this.timeline });
    this.opts.log.info(`playlist version ${this.pages.info.version}: ${tracks.length} tracks`);
  }

  /** Lets the scan of the music dir report its progress in status(). */
  setScanProgress(progress: () => ProgressView | null): void {
    this.scanProgress = progress;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE') reject(new Error(`port ${this.opts.port} on ${this.opts.host} is in use (another leader running?): pick another with --port`));
        else reject(e);
      });
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    server.on('error', (e) => this.opts.log.error(`server: ${e.message}`));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    if (this.opts.files) {
      const files = new FileServer({ host: this.opts.host, port: this.opts.files.port, musicDir: this.opts.files.musicDir, secret: this.opts.secret, keysFor: (name) => (this.access.open ? [''] : this.access.keysFor(name).map((k) => k.key)), tracks: () => this.tracks, log: this.opts.log, rateBytesPerSec: this.opts.files.rateBytesPerSec });
      try {
        await files.start();
      } catch (e) {
        server.close();
        throw new Error(`cannot serve files on port ${this.opts.files.port}: ${(e as Error).message}`);
      }
      this.fileServer = files;
      this.opts.log.info(`serving playlist files to members that lack them on port ${files.port} (at most ${(files.rateBytesPerSec / 1048576).toFixed(1)} MiB/s)`);
    }
    this.setTimeline(this.restored ? this.timeline : { ...this.timeline, at: this.now() });
    this.heartbeatTimer = setInterval(() => this.housekeeping(), this.opts.heartbeatMs ?? 1000);
    this.heartbeats.start();
    this.opts.log.info(`leader listening on ${this.opts.host}:${this.port} with ${this.tracks.length} tracks${this.opts.secret ? ' (secret required)' : ''}`);
  }

  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeats.stop();
    for (const s of this.sessions) s.close('leader shutting down');
    await this.fileServer?.stop();
    this.fileServer = null;
    this.setTimeline(this.timeline, true);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  /** Lets the party scheduler report its next start and stop in status(). */
  setScheduleInfo(info: ScheduleInfo): void {
    this.scheduleInfo = info;
  }

  /** Lets the web remote report its link in status(). */
  setWebInfo(info: { url: string } | null): void {
    this.webInfo = info;
  }

  currentTimeline(): Timeline {
    return this.timeline;
  }

  /** The instant a command takes effect: --lead-ms (or `leadMs`) plus the slowest member's round trip. */
  commandInstant(leadMs = this.opts.leadMs): SharedMs {
    let slowest = 0;
    for (const s of this.sessions) {
      const rtt = s.lastStatus?.rttMs;
      if (s.joined && rtt != null) slowest = Math.max(slowest, rtt);
    }
    return sharedMs(this.now() + leadMs + Math.min(slowest, MAX_RTT_LEAD_MS));
  }

  command(command: Command, atGiven?: SharedMs): { ok: true; timeline: Timeline } | { ok: false; error: string } {
    let at = atGiven ?? this.commandInstant();
    let result = applyCommand(this.timeline, this.tracks, command, at);
    if (!result.ok) return result;
    if (atGiven === undefined && this.opts.startLeadMs !== undefined && this.opts.startLeadMs > this.opts.leadMs) {
      const later = this.commandInstant(this.opts.startLeadMs);
      if (this.startsFromSilence(result.timeline, at, later)) {
        at = later;
        result = applyCommand(this.timeline, this.tracks, command, at);
        if (!result.ok) return result;
      }
    }
    this.adoptable = false;
    // The members first: the command is due in --lead-ms, the party file can wait a moment.
    this.timeline = result.timeline;
    const sent = this.broadcast({ type: 'timeline', timeline: this.timeline });
    this.saveParty();
    const inMs = (at - this.now()).toFixed(0);
    this.opts.log.info(`${command.kind}${'seconds' in command ? ` ${command.seconds}` : ''} → ${this.describeTimeline()} in ${inMs} ms (sent to ${sent.count} in ${sent.ms.toFixed(1)} ms, ${sent.cpuMs.toFixed(1)} ms of CPU)`);
    return result;
  }

  /**
   * Whether `next` starts a track's beginning at `at` while the timeline in force is silent there —
   * and stays silent until `later` too (a start already due before it must not play on until then:
   * the command replaces it at `at`).
   */
  private startsFromSilence(next: Timeline, at: SharedMs, later: SharedMs): boolean {
    if (next.state !== 'playing' || next.positionSec !== 0) return false;
    const silentAt = (t: SharedMs) => playheadAt(this.timeline, this.tracks, t).state !== 'playing';
    return silentAt(at) && silentAt(later);
  }

  /**
   * Changes a member's volume, mute or latency offset, remembers it under its name, and sends it
   * if the member is connected. `name` "all" applies to every member the leader knows.
   */
  setMemberSettings(name: string, patch: Partial<MemberSettings> | ((current: MemberSettings) => Partial<MemberSettings>)): { ok: true; settings: Record<string, MemberSettings> } | { ok: false; error: string } {
    const live = this.liveMembers();
    const known = new Set([...live.map((s) => s.name), ...this.lost.keys(), ...this.settings.names()]);
    const names = name === 'all' ? [...new Set([...live.map((s) => s.name), ...this.lost.keys()])] : known.has(name) ? [name] : [];
    if (names.length === 0) {
      return { ok: false, error: name === 'all' ? 'no members' : `no member named "${name}" (known: ${[...known].join(', ') || 'none'})` };
    }
    const result: Record<string, MemberSettings> = {};
    for (const n of names) {
      const change = typeof patch === 'function' ? patch(this.settings.get(n)) : patch;
      const next = this.settings.set(n, change);
      result[n] = next;
      for (const s of live) if (s.name === n) s.send({ type: 'settings', settings: next });
      this.opts.log.info(`member "${n}": volume ${next.volume}${next.muted ? ' (muted)' : ''}, latency offset ${next.latencyOffsetMs === null ? 'its own' : `${next.latencyOffsetMs} ms`}`);
    }
    return { ok: true, settings: result };
  }

  /** Removes a member's pairing and disconnects it if it is connected with that pairing. */
  forget(name: string): { ok: true; description: string } | { ok: false; error: string } {
    if (this.access.open) return { ok: false, error: 'this party is open (--open): there are no pairings to remove' };
    const had = this.access.forget(name);
    let dropped = 0;
    for (const s of this.sessions) {
      if (s.joined && s.name === name && s.authKind === 'paired') {
        s.close('this member was removed from the party');
        dropped += 1;
      }
    }
    if (!had) return { ok: false, error: `no paired member named "${name}"` };
    return { ok: true, description: `"${name}" is no longer paired${dropped ? ' and was disconnected' : ''}; it can join again only with a new pairing (--join CODE)` };
  }

  describeTimeline(t: Timeline = this.timeline): string {
    const track = this.tracks[t.trackIndex];
    return `${t.state} track ${t.trackIndex + 1}/${this.tracks.length} "${track?.title ?? '?'}" at ${t.positionSec.toFixed(2)} s`;
  }

  status(): LeaderStatus {
    const now = this.now();
    const localNow = monotonicMs();
    const playhead = playheadAt(this.timeline, this.tracks, now);
    const members: MemberView[] = [];
    for (const s of this.sessions) if (s.joined && s.role === 'member') members.push(this.view(s, localNow));
    for (const [key, entry] of this.lost) {
      if (localNow - entry.lostAt > LOST_MEMBER_RETENTION_MS) this.lost.delete(key);
      else members.push(entry.view);
    }
    return {
      now,
      timeline: this.timeline,
      playhead,
      track: this.tracks[playhead.trackIndex] ?? null,
      tracks: this.tracks,
      playlist: { version: this.pages.info.version, count: this.tracks.length, durationSec: this.playlistDurationSec },
      scan: this.scanProgress(),
      members,
      listening: { host: this.opts.host, port: this.port },
      schedule: (() => {
        const next = this.scheduleInfo();
        return { nextStart: next.nextStart?.toISOString() ?? null, nextStop: next.nextStop?.toISOString() ?? null };
      })(),
      repeat: this.timeline.repeat,
      files: this.fileServer ? { port: this.fileServer.port, rateBytesPerSec: this.fileServer.rateBytesPerSec, stats: { ...this.fileServer.stats } } : null,
      party: { name: this.access.party.name, id: this.access.party.id ?? null, open: this.access.open, pairing: this.access.status() },
      web: this.webInfo,
    };
  }

  /** `localNow`: now on this process's monotonic clock, the clock statuses are stamped on. */
  private view(s: MemberSession, localNow: LocalMs): MemberView {
    const st = s.lastStatus;
    const settings = this.settings.get(s.name);
    return {
      id: s.id,
      name: s.name,
      address: s.address,
      connected: s.isOpen,
      clockOffsetMs: st?.clockOffsetMs ?? null,
      rttMs: st?.rttMs ?? null,
      clockSkewPpm: st?.clockSkewPpm ?? null,
      errorMs: st?.errorMs ?? null,
      speed: st?.speed ?? null,
      playerState: st?.playerState ?? 'unknown',
      fileStatus: st?.fileStatus ?? 'unknown',
      fileProblems: st?.fileProblems ?? [],
      playlistVersion: st?.playlistVersion ?? null,
      tracksReceived: st?.tracksReceived ?? null,
      filesChecked: st?.filesChecked ?? null,
      filesTotal: st?.filesTotal ?? null,
      latencyOffsetMs: st?.latencyOffsetMs ?? settings.latencyOffsetMs,
      volume: settings.volume,
      muted: settings.muted,
      hardSeeks: st?.hardSeeks ?? 0,
      trackIndex: st?.trackIndex ?? null,
      statusAgeMs: st ? localNow - s.lastStatusAtMs : null,
      fetch: st?.fetch ?? null,
    };
  }

  private accept(socket: import('node:net').Socket): void {
    if (this.sessions.size >= this.limits.maxConnections) {
      this.noteRefusal(`connection from ${socket.remoteAddress ?? '?'} closed: ${this.limits.maxConnections} connections open already`);
      socket.destroy();
      return;
    }
    let pending = 0;
    let fromThere = 0;
    for (const s of this.sessions) {
      if (s.joined) continue;
      pending++;
      if (s.remoteAddress === socket.remoteAddress) fromThere++;
    }
    if (pending >= this.limits.maxPendingHandshakes || fromThere >= this.limits.maxPendingPerAddress) {
      this.noteRefusal(`connection from ${socket.remoteAddress ?? '?'} closed: ${fromThere >= this.limits.maxPendingPerAddress ? `${fromThere} handshakes pending from that address` : `${pending} handshakes pending`} already`);
      socket.on('error', () => {});
      socket.end(JSON.stringify({ type: 'error', code: 'busy', message: 'too many connections are joining at once; try again shortly' }) + '\n');
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const session = new MemberSession(socket, {
      access: this.access,
      version: this.opts.version,
      clock: this.now,
      clockKind: this.opts.clockKind ?? 'monotonic',
      playlist: () => this.pages,
      timeline: () => this.timeline,
      filesPort: () => this.fileServer?.port ?? null,
      exchangePaceMs: () => exchangePaceMs(this.sessions.size, this.exchangePace),
      log: this.opts.log,
      limits: this.limits,
      onJoined: (s) => this.joined(s),
      onLeft: (s) => this.left(s),
      onCalibratorRequest: (s, request) => this.calibratorRequest(s, request),
    });
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
  }

  /** Members (not calibrators) that have joined and are still connected. */
  private liveMembers(): MemberSession[] {
    return [...this.sessions].filter((s) => s.joined && s.isOpen && s.role === 'member');
  }

  private liveMember(name: string): MemberSession | null {
    return this.liveMembers().find((s) => s.name === name) ?? null;
  }

  /** A calibrator's requests: list the members, have one play the test signal, store a measured offset. */
  private calibratorRequest(from: MemberSession, request: CalibratorRequest): { ok: boolean; error?: string; members?: { name: string; connected: boolean; latencyOffsetMs: number | null; playerState: string }[] } {
    switch (request.type) {
      case 'list-members':
        return {
          ok: true,
          members: this.status().members.map((m) => ({ name: m.name, connected: m.connected, latencyOffsetMs: m.latencyOffsetMs, playerState: m.playerState })),
        };
      case 'calibrate-play': {
        const member = this.liveMember(request.member);
        if (!member) return { ok: false, error: `member "${request.member}" is not connected` };
        const here = playheadAt(this.timeline, this.tracks, this.now());
        if (here.state === 'playing' || here.state === 'pending') return { ok: false, error: 'the music is playing: pause or stop it first (syncplay ctl pause)' };
        if (request.at < this.now() + 200) return { ok: false, error: 'the signal instant is too close or past: schedule it at least 200 ms ahead' };
        this.opts.log.info(`${from.label}: ${member.label} plays the test signal`);
        member.send({ type: 'play-signal', at: request.at, signal: request.signal });
        return { ok: true };
      }
      case 'set-offset': {
        const result = this.setMemberSettings(request.member, { latencyOffsetMs: request.latencyOffsetMs });
        return result.ok ? { ok: true } : { ok: false, error: result.error };
      }
    }
  }

  /**
   * The saved party is gone (a wiped or new state dir) but an authenticated member returns playing
   * this very playlist on this very clock: carry on with its timeline rather than stop everyone.
   */
  private maybeAdopt(s: MemberSession): void {
    const r = s.resume;
    if (!r) return;
    // Still scanning: decide once the playlist is known (publishPlaylist).
    if (this.tracks.length === 0 && !this.resumeTried && this.opts.party) {
      this.pendingAdoption ??= s;
      return;
    }
    if (!this.adoptable) return;
    this.adoptable = false;
    const skewMs = r.sharedNowMs - this.now();
    if (r.playlistDigest !== this.digest || r.timeline.state === 'stopped' || r.timeline.trackIndex >= this.tracks.length || Math.abs(skewMs) > 2000) {
      this.opts.log.info(`${s.label} offered its timeline; not adopted (${r.playlistDigest !== this.digest ? 'another playlist' : r.timeline.state === 'stopped' ? 'stopped' : Math.abs(skewMs) > 2000 ? 'another clock' : 'no such track'})`);
      return;
    }
    this.setTimeline({ ...r.timeline, playlistVersion: this.pages.info.version });
    // After the welcome (which carries it to this member), to everyone else.
    setImmediate(() => this.broadcast({ type: 'timeline', timeline: this.timeline }));
    this.opts.log.info(`no saved party: adopted the timeline ${s.label} is playing: ${this.describeTimeline()} (timeline #${this.timeline.seq})`);
  }

  private lastRefusalLogMs = -Infinity;
  private refusals = 0;

  /** Logs refused connections at most every 10 s (a flood must not flood the log). */
  private noteRefusal(message: string): void {
    this.refusals += 1;
    const now = monotonicMs();
    if (now - this.lastRefusalLogMs < 10_000) return;
    this.lastRefusalLogMs = now;
    this.opts.log.warn(`${message} (${this.refusals} refused so far)`);
  }

  private joined(s: MemberSession): string | void {
    if (s.role === 'member' && this.liveMembers().filter((o) => o !== s).length >= this.limits.maxMembers) {
      this.noteRefusal(`${s.label} refused: ${this.limits.maxMembers} members joined already`);
      return `this party has its maximum of ${this.limits.maxMembers} members (leader --max-members)`;
    }
    s.id = String(this.nextId++);
    if (s.role === 'calibrator') {
      this.opts.log.info(`${s.label} joined`);
      return;
    }
    // A name belongs to one device. The same device coming back (its old connection not yet seen
    // to be dead) replaces its stale session; another device is told to pick another name.
    const holder = this.liveMembers().find((o) => o !== s && o.name === s.name);
    if (holder) {
      if (s.deviceId === null || holder.deviceId !== s.deviceId) {
        s.id = '';
        this.noteRefusal(`${s.label} refused: the name is in use by another device (${holder.address})`);
        return `a different device is already called "${s.name}" in this party: start this one with another --name`;
      }
      holder.replaced = true;
      holder.drop('the same device reconnected: replaced by its new session');
    }
    this.lost.delete(s.name);
    this.opts.log.info(`${s.label} joined`);
    this.maybeAdopt(s);
    // After the welcome, so the member knows the playlist before its settings.
    setImmediate(() => s.send({ type: 'settings', settings: this.settings.get(s.name) }));
  }

  private left(s: MemberSession): void {
    if (s.role === 'calibrator') {
      this.opts.log.info(`${s.label} left`);
      return;
    }
    if (s.replaced) return;
    this.opts.log.warn(`${s.label} disconnected`);
    const localNow = monotonicMs();
    const view = this.view(s, localNow);
    this.lost.set(s.name, { view: { ...view, connected: false }, lostAt: localNow });
  }

  /** Joined peers silent for a few heartbeats are gone (a dropped Wi-Fi does not close TCP): close them. */
  private closeSilent(): void {
    const now = monotonicMs();
    for (const s of this.sessions) {
      if (s.joined && s.isOpen && now - s.lastHeardMs > this.limits.silentAfterMs) {
        s.drop(`no message for ${((now - s.lastHeardMs) / 1000).toFixed(1)} s: marked lost`);
      }
    }
  }

  /** Every heartbeat interval: closes silent members and carries the timeline on past track ends. */
  private housekeeping(): void {
    this.closeSilent();
    const now = this.now();
    const normalized = normalizeTimeline(this.timeline, this.tracks, now);
    if (normalized !== this.timeline) {
      const wasTrack = this.timeline.trackIndex;
      this.setTimeline(normalized);
      if (normalized.state === 'stopped') this.opts.log.info('playlist finished');
      else if (normalized.trackIndex !== wasTrack) this.opts.log.info(`next track: ${this.describeTimeline()}`);
    }
    // The heartbeats themselves go out in slices over the interval (heartbeat-pacer.ts).
  }

  /**
   * One message to every joined peer: serialised once, tagged per member by its connection (in
   * batches: broadcast.ts), all written in this turn of the event loop (so no line written after
   * it can overtake it).
   */
  private broadcast(message: LeaderMessage): { count: number; ms: number; cpuMs: number } {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const count = sendToAll(this.sessions, JSON.stringify(message) + '\n');
    const used = process.cpuUsage(cpu);
    return { count, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
  }
}

function totalDuration(tracks: readonly Track[]): number {
  let sum = 0;
  for (const t of tracks) sum += t.durationSec;
  return sum;
}
