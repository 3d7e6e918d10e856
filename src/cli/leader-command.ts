/** `syncplay leader`: serve the playlist and the timeline; optionally play here too (--play). */
import { dirname, join, resolve } from 'node:path';
import { defaultControlSocketPath } from '../leader/control-socket-path.js';
import { ControlServer } from '../leader/control-server.js';
import { DEFAULT_START_LEAD_MS } from '../leader/command-lead.js';
import { Leader } from '../leader/leader.js';
import { startLeaderSchedule, validateScheduleOptions, type PartyScheduler } from '../leader/schedule/index.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { Member } from '../member/member.js';
import { loadOrCreatePartySecret, loadPartySecretFile, type PartySecret } from '../party/party-secret.js';
import { defaultStateDir } from '../party/state-dir.js';
import { advertise, type Advertiser } from '../discovery/advertise.js';
import { PROTOCOL_VERSION } from '../protocol/index.js';
import { NtpClock, parseNtpServer } from '../clock/ntp-clock.js';
import { wallMs, wallNow, type WallMs } from '../clock/time.js';
import type { RepeatMode } from '../protocol/index.js';
import { assertDirectory, loadPlaylist } from '../playlist/load-playlist.js';
import { describeProgress, Progress } from '../playlist/progress.js';
import { ScanCache } from '../playlist/scan-cache.js';
import { PartyStateStore, newShuffleSeed, playlistDigest, seededShuffle } from '../leader/party-state.js';
import { DEFAULT_PORT, defaultMemberName } from './options.js';
import { untilSignal } from './until-signal.js';
import { VERSION } from './version.js';
import { TRANSFER } from '../protocol/file-transfer.js';
import { WebServer } from '../web/web-server.js';
import { webToken } from '../web/token.js';
import { qrForLog } from '../leader/ui/qr.js';
import type { FirstFrame } from '../leader/ui/first-frame.js';
import { loadLeaderUi } from '../leader/ui/load-ui.js';
import type { ProgressView } from '../playlist/progress.js';
import { terminalUiWanted } from './terminal-ui.js';
import { raiseThreads, SYNC_NICE } from '../member/priority.js';

export interface LeaderCommandOptions {
  musicDir: string;
  playlist?: string;
  host: string;
  port: number;
  autoplay?: boolean;
  shuffle?: boolean;
  repeat?: RepeatMode;
  leadMs: number;
  /** a start from silence at a track's beginning is set at least this far ahead (default DEFAULT_START_LEAD_MS) */
  startLeadMs?: number;
  secretFile?: string;
  /** --open: no party secret, anyone on the LAN may join (default: a party secret, members pair) */
  open?: boolean;
  /** where the party secret, the paired members and the member settings live (default: $XDG_STATE_HOME/syncplay) */
  stateDir?: string;
  /** the party's name in discovery and on members (default: this host's name) */
  partyName?: string;
  /** --no-advertise: do not announce the party with mDNS */
  advertise?: boolean;
  ui: boolean;
  play?: boolean;
  socket?: string;
  stateFile?: string | null;
  name?: string;
  audioDevice?: string;
  mpvArg: string[];
  latencyOffset: number;
  verbose?: boolean;
  /** --start-at HH:MM[:SS]: start the playlist from track 1 at that time (today, or tomorrow if past) */
  startAt?: string;
  /** --schedule CRON: start the playlist from track 1 at every occurrence */
  schedule?: string;
  /** --stop-at HH:MM[:SS]: stop at that time */
  stopAt?: string;
  /** --stop-schedule CRON: stop at every occurrence */
  stopSchedule?: string;
  /** --tz Area/City: time zone of the schedules (default: the system's) */
  tz?: string;
  /** UTC wall clock the schedules are kept on (default Date.now) */
  wallNow?: () => WallMs;
  /** --ntp SERVER[:PORT]: the shared clock is UTC from this NTP server */
  ntp?: string;
  /** false with --no-serve-files */
  serveFiles?: boolean;
  filesPort?: number;
  /** bytes/s for all transfers together (0: no limit) */
  serveRate?: number;
  maxMembers?: number;
  maxConnections?: number;
  /** --web PORT: serve the web remote there (0: a free port); false or absent: no web remote */
  web?: number | false;
  lostAfter?: number;
}

export interface RunningLeader {
  leader: Leader;
  /** the party secret in force, or null with --open */
  party: PartySecret | null;
  control: ControlServer | null;
  web: WebServer | null;
  localMember: Member | null;
  /** settles when the music dir is scanned and its playlist published; rejects when no track can be played */
  scanned: Promise<void>;
  /** the scan's progress now */
  scanProgress(): ProgressView;
  stop(): Promise<void>;
}

/** While the scan runs, a progress line this often (headless, and in the UI's log pane). */
const SCAN_LOG_EVERY_MS = 2000;

export async function startLeader(o: LeaderCommandOptions, log: Logger): Promise<RunningLeader> {
  if (!raiseThreads(process.pid, SYNC_NICE)) log.debug(`could not raise this process's priority to nice ${SYNC_NICE} (not permitted)`);
  let ntp: NtpClock | null = null;
  if (o.ntp) {
    parseNtpServer(o.ntp);
    ntp = new NtpClock({ server: o.ntp, log: (m) => log.child('ntp').info(m) });
    log.info(`synchronising with NTP server ${o.ntp}…`);
    await ntp.start();
    log.info(`shared clock: UTC from ${o.ntp} (offset ${ntp.offsetMs.toFixed(3)} ms from this machine's monotonic clock, round trip ${ntp.rttMs.toFixed(2)} ms)`);
    const clock = ntp;
    // Under --ntp the shared clock is UTC: the NTP-disciplined one is the better wall clock.
    o = { ...o, wallNow: o.wallNow ?? (() => wallMs(clock.nowUtcMs())) };
  }
  // Bad schedule flags fail before anything starts.
  const schedule = validateScheduleOptions({ startAt: o.startAt, schedule: o.schedule, stopAt: o.stopAt, stopSchedule: o.stopSchedule, tz: o.tz }, (o.wallNow ?? wallNow)());
  const musicDir = resolve(o.musicDir);
  const stateDir = resolve(o.stateDir ?? defaultStateDir());
  const party = resolvePartySecret(o, stateDir, log);
  const secret = party?.secret ?? null;
  await assertDirectory(musicDir);
  const settingsFile = o.stateFile === undefined ? join(stateDir, 'members.json') : o.stateFile;
  // The party (timeline, shuffle seed) is kept next to the member settings; none without them.
  const partyStore = new PartyStateStore(settingsFile === null ? null : join(dirname(settingsFile), 'party.json'), log.child('leader'));
  const saved = partyStore.load();

  // Listen at once with an empty playlist: members join, clocks converge and `ctl status`
  // answers while the music dir is scanned; the playlist follows as version 1 (and the saved
  // party resumes then, if it was saved with that playlist).
  const leader = new Leader({ host: o.host, port: o.port, tracks: [], partyName: (o.partyName ?? defaultMemberName()).slice(0, 64), stateDir: o.open ? null : stateDir, repeat: o.repeat ?? 'off', secret, leadMs: o.leadMs, startLeadMs: o.startLeadMs ?? DEFAULT_START_LEAD_MS, version: VERSION, log: log.child('leader'), settingsFile, party: { store: partyStore, saved, shuffleSeed: null }, files: o.serveFiles === false ? null : { musicDir, port: o.filesPort ?? 0, rateBytesPerSec: o.serveRate ?? TRANSFER.SERVE_RATE }, limits: { ...(o.maxMembers ? { maxMembers: o.maxMembers } : {}), ...(o.maxConnections ? { maxConnections: o.maxConnections } : {}), ...(o.lostAfter ? { silentAfterMs: o.lostAfter } : {}) }, ...(ntp ? { clock: () => ntp.nowUtcMs(), clockKind: 'utc' as const } : {}) });
  await leader.start();
  const advertiser = announce(o, leader, ntp !== null, log.child('mdns'));

  let control: ControlServer | null = null;
  try {
    control = new ControlServer(leader, o.socket ?? defaultControlSocketPath(), log.child('ctl'));
    await control.start();
  } catch (e) {
    await leader.stop();
    throw e;
  }

  let web: WebServer | null = null;
  if (o.web !== undefined && o.web !== false) {
    const ctl = control;
    const tokenFile = join(stateDir, 'web-token');
    try {
      const { token, source } = webToken({ secret, file: tokenFile });
      web = new WebServer({ source: { status: () => leader.status(), handle: (req) => ctl.handle(req) }, host: o.host, port: o.web, token, log: log.child('web') });
      await web.start();
      leader.setWebInfo({ url: web.url() });
      const key = source === 'secret' ? "key derived from the party secret" : source === 'stored' ? `key kept in ${tokenFile}` : 'key for this run';
      log.info(`web remote: ${web.url()} (${key}; page ${(web.pageBytes / 1024).toFixed(1)} KiB)`);
    } catch (e) {
      await control.stop();
      await leader.stop();
      throw e;
    }
  }

  let localMember: Member | null = null;
  if (o.play) {
    // Loaded only here: a leader that does not play never loads the member's code.
    const { Member } = await import('../member/member.js');
    localMember = new Member({
      host: o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host,
      port: leader.port,
      musicDir,
      name: o.name ?? `${defaultMemberName()}`,
      secret,
      ...(o.audioDevice ? { audioDevice: o.audioDevice } : {}),
      mpvArgs: o.mpvArg,
      latencyOffsetMs: o.latencyOffset,
      version: VERSION,
      log: log.child('local member'),
      ntp,
    });
    await localMember.start();
  }

  const progress = new Progress('listing');
  leader.setScanProgress(() => progress.view());
  const scanLog = setInterval(() => log.info(`scanning ${musicDir}: ${describeProgress(progress.view())}`), SCAN_LOG_EVERY_MS);
  const cache = new ScanCache();
  const scanned = loadPlaylist({ musicDir, ...(o.playlist ? { playlistFile: resolve(o.playlist) } : {}), cache, progress })
    .then((playlist) => {
      for (const w of playlist.warnings) log.warn(w);
      if (cache.lastError) log.warn(cache.lastError);
      log.info(`playlist: ${playlist.tracks.length} tracks from ${playlist.source}${o.shuffle ? ', shuffled' : ''}; ${describeProgress(progress.view())}`);
      // A shuffled party keeps its order across restarts (the seed is saved with it), unless the playlist changed.
      let shuffleSeed = o.shuffle ? (saved?.shuffleSeed ?? newShuffleSeed()) : null;
      let tracks = shuffleSeed ? seededShuffle(playlist.tracks, shuffleSeed) : playlist.tracks;
      if (shuffleSeed && saved && playlistDigest(tracks) !== saved.playlistDigest) {
        shuffleSeed = newShuffleSeed();
        tracks = seededShuffle(playlist.tracks, shuffleSeed);
      }
      leader.publishPlaylist(tracks, shuffleSeed);
    })
    .finally(() => clearInterval(scanLog));
  scanned.catch(() => {});

  if (o.autoplay) {
    // Start once there is a playlist and the first member has a clock estimate, so nobody misses the opening.
    const poll = setInterval(() => {
      const ready = leader.tracks.length > 0 && leader.status().members.some((m) => m.connected && m.rttMs !== null);
      if (ready) {
        clearInterval(poll);
        leader.command({ kind: 'play' });
      }
    }, 200);
    poll.unref();
  }

  const scheduler: PartyScheduler | null = schedule ? startLeaderSchedule(leader, schedule, log.child('schedule'), { wallNow: o.wallNow }) : null;

  return {
    leader,
    party,
    control,
    web,
    localMember,
    scanned,
    scanProgress: () => progress.view(),
    async stop() {
      clearInterval(scanLog);
      scheduler?.stop();
      await localMember?.stop();
      await web?.stop();
      await control?.stop();
      await advertiser?.stop();
      await leader.stop();
      ntp?.stop();
    },
  };
}

/** Announces the party on the local network unless --no-advertise (or listening on loopback only). */
function announce(o: LeaderCommandOptions, leader: Leader, utc: boolean, log: Logger): Advertiser | null {
  if (o.advertise === false) return null;
  if (/^127\.|^::1$|^localhost$/.test(o.host)) {
    log.info(`listening on ${o.host} only: not announced on the network`);
    return null;
  }
  const party = leader.access.party;
  return advertise({ partyName: party.name, partyId: party.id ?? null, port: leader.port, protocol: PROTOCOL_VERSION, clock: utc ? 'utc' : 'monotonic', pairingRequired: !leader.access.open }, log);
}

/** The party secret: --secret-file, else the state dir's own (created on first start); none with --open. */
function resolvePartySecret(o: LeaderCommandOptions, stateDir: string, log: Logger): PartySecret | null {
  if (o.open) {
    if (o.secretFile) throw new Error('--open and --secret-file contradict each other: give one of them');
    log.warn('open party (--open): anyone on this network can join and follow it');
    return null;
  }
  const party = o.secretFile ? loadPartySecretFile(o.secretFile) : loadOrCreatePartySecret(stateDir);
  if (party.created) log.info(`created the party secret in ${party.file} (readable by this user only)`);
  return party;
}

/** How often the plain first frame redraws the scan's progress until the panel has loaded. */
const FIRST_FRAME_EVERY_MS = 250;

/**
 * Runs the leader until it is quit. `frame`: the plain first frame the caller drew when the UI is
 * wanted (main.ts draws it before this module loads, so that it shows before the leader's code).
 */
export async function runLeader(o: LeaderCommandOptions, frame: FirstFrame | null): Promise<void> {
  const withUi = terminalUiWanted(o.ui);
  // React's development build (chosen when NODE_ENV is unset) checks every render and costs the
  // UI several times the CPU: the production build unless asked otherwise (the bundle has it
  // built in). The UI loads while the leader starts; until it can draw, a plain frame shows the
  // header and the scan's progress.
  if (withUi) process.env.NODE_ENV ??= 'production';
  const uiModule = withUi ? loadLeaderUi() : null;
  uiModule?.catch(() => {});
  const logs = withUi ? new (await import('../leader/ui/log-buffer.js')).LogBuffer() : null;
  const log = createLogger(o.verbose ? 'debug' : 'info', '', logs ? logs.write : undefined);
  let running: RunningLeader;
  try {
    running = await startLeader(o, log);
  } catch (e) {
    frame?.leave();
    logs?.detach();
    for (const line of logs?.lines() ?? []) process.stderr.write(line + '\n');
    throw e;
  }
  const pairing = running.leader.access.status();
  log.info(`members join with: syncplay member --music-dir <their music dir>${pairing ? ` (the first time: --join ${pairing.code})` : ''}${o.advertise === false ? ` --ip <this host> --port ${running.leader.port}` : ` (on a network without multicast: --ip <this host> --port ${running.leader.port})`}`);
  if (running.web && !logs) {
    // The QR code of the web remote's link, for a phone's camera (the terminal UI draws its own).
    process.stderr.write(qrForLog(running.web.url(), process.stderr.isTTY === true && !('NO_COLOR' in process.env)) + '\n');
  }
  // A scan that finds nothing playable ends the leader with its error.
  let scanError: unknown = null;
  const scanFailed = running.scanned.then(
    () => new Promise<never>(() => {}),
    (e: unknown) => {
      scanError = e;
    },
  );
  if (logs && uiModule) {
    const where = `${o.host}:${running.leader.port}`;
    const drawFrame = (): void => frame?.draw({ listening: where, scan: running.scanProgress() });
    drawFrame();
    const redraw = setInterval(drawFrame, FIRST_FRAME_EVERY_MS);
    let ui: Awaited<typeof uiModule>;
    try {
      ui = await uiModule;
    } catch (e) {
      clearInterval(redraw);
      frame?.leave();
      await running.stop();
      throw e;
    }
    clearInterval(redraw);
    frame?.handOver();
    const { runLeaderUi } = ui;
    const { leader, control } = running;
    await runLeaderUi({
      source: { status: () => leader.status(), handle: (req) => (control ? control.handle(req) : { ok: false, error: 'no control socket' }) },
      logs,
      until: scanFailed,
    });
    logs.detach();
  } else {
    await Promise.race([untilSignal(), scanFailed]);
  }
  log.info('shutting down');
  await running.stop();
  if (scanError !== null) {
    for (const line of logs?.lines() ?? []) process.stderr.write(line + '\n');
    throw scanError;
  }
}
