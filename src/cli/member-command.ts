/** `syncplay member`: follow a leader's timeline on this device's speakers. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLogger } from '../log/logger.js';
import { Member } from '../member/member.js';
import { TelemetryWriter } from '../member/telemetry.js';
import { establishMembership } from '../party/membership.js';
import { defaultStateDir } from '../party/state-dir.js';
import { pairedPartyIds } from '../party/pairings.js';
import { locateLeader } from '../discovery/locate-leader.js';
import { askJoinCode } from '../party/ask-join-code.js';
import { NtpClock, parseNtpServer } from '../clock/ntp-clock.js';
import { untilSignal } from './until-signal.js';
import { defaultMemberName } from './options.js';
import { DEFAULT_CACHE_BYTES, defaultCacheDir } from '../member/fetch/file-cache.js';
import { VERSION } from './version.js';
import { loadOrCreateDeviceId } from '../member/device-id.js';
import { raiseThreads, SYNC_NICE } from '../member/priority.js';

export interface MemberCommandOptions {
  /** the leader's address; absent: found on the local network (mDNS) */
  ip?: string;
  /** with discovery: the party to join when several leaders answer */
  party?: string;
  discoverTimeout?: number;
  port: number;
  musicDir: string;
  name?: string;
  audioDevice?: string;
  mpvArg: string[];
  mpvPath?: string;
  latencyOffset: number;
  secretFile?: string;
  /** --join CODE: pair with the leader's join code (once; remembered in the state dir) */
  join?: string;
  /** where pairings are remembered (default $XDG_STATE_HOME/syncplay) */
  stateDir?: string;
  verbose?: boolean;
  telemetry?: string;
  ntp?: string;
  /** false with --no-fetch */
  fetch?: boolean;
  cacheDir?: string;
  cacheSize?: number;
  syncMusic?: boolean;
}

export async function runMember(o: MemberCommandOptions): Promise<void> {
  // On a terminal, a status line updated in place below the log lines; otherwise plain logs.
  const statusModule = process.stdout.isTTY === true ? await import('../member/status-line.js') : null;
  const statusLine = statusModule ? new statusModule.StatusLine() : null;
  const log = createLogger(o.verbose ? 'debug' : 'info', '', statusLine ? statusLine.log : undefined);
  const musicDir = resolve(o.musicDir);
  if (!existsSync(musicDir) || !statSync(musicDir).isDirectory()) {
    throw new Error(`music dir ${musicDir} does not exist: pass --music-dir with the folder that holds the same files as the leader's`);
  }
  let ntp: NtpClock | null = null;
  if (o.ntp) {
    parseNtpServer(o.ntp);
    ntp = new NtpClock({ server: o.ntp, log: (m) => log.info(m) });
    log.info(`synchronising with NTP server ${o.ntp}…`);
    await ntp.start();
    log.info(`NTP: UTC offset ${ntp.offsetMs.toFixed(3)} ms, round trip ${ntp.rttMs.toFixed(2)} ms`);
  }
  if (!raiseThreads(process.pid, SYNC_NICE)) log.debug(`could not raise this process's priority to nice ${SYNC_NICE} (not permitted)`);
  const stateDir = resolve(o.stateDir ?? defaultStateDir());
  const leaderAt = await locateLeader({ ...(o.ip ? { ip: o.ip } : {}), port: o.port, ...(o.party ? { party: o.party } : {}), pairedPartyIds: pairedPartyIds(stateDir), ...(o.discoverTimeout ? { timeoutMs: o.discoverTimeout } : {}), log });
  const membership = await establishMembership({
    host: leaderAt.host,
    port: leaderAt.port,
    ...(o.name !== undefined ? { name: o.name } : {}),
    defaultName: defaultMemberName(),
    ...(o.secretFile ? { secretFile: o.secretFile } : {}),
    ...(o.join ? { join: o.join } : {}),
    stateDir,
    version: VERSION,
    log,
    ...(process.stdin.isTTY === true && process.stdout.isTTY === true ? { askCode: askJoinCode } : {}),
    waitForLeader: o.join === undefined,
  });
  const name = membership.name;
  const telemetry = o.telemetry ? new TelemetryWriter(o.telemetry, name) : null;
  const member = new Member({
    host: leaderAt.host,
    port: leaderAt.port,
    musicDir,
    name,
    secret: membership.secret,
    deviceId: loadOrCreateDeviceId(resolve(o.stateDir ?? defaultStateDir())),
    ...(o.audioDevice ? { audioDevice: o.audioDevice } : {}),
    mpvArgs: o.mpvArg,
    ...(o.mpvPath ? { mpvPath: o.mpvPath } : {}),
    latencyOffsetMs: o.latencyOffset,
    version: VERSION,
    log,
    ntp,
    fetch: o.fetch === false ? null : { cacheDir: resolve(o.cacheDir ?? defaultCacheDir()), cacheBytes: o.cacheSize ?? DEFAULT_CACHE_BYTES, syncMusic: o.syncMusic === true },
    ...(telemetry ? { onReading: (r) => telemetry.write(r) } : {}),
  });
  if (statusModule && statusLine) statusModule.followMember(statusLine, member);
  try {
    await member.start();
  } catch (e) {
    statusLine?.stop();
    throw e;
  }
  await untilSignal();
  statusLine?.stop();
  log.info('shutting down');
  await member.stop();
  ntp?.stop();
  await telemetry?.close();
}
