/** `syncplay member`: follow a leader's timeline on this device's speakers. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLogger } from '../log/logger.js';
import { Member } from '../member/member.js';
import { TelemetryWriter } from '../member/telemetry.js';
import { readSecretFile } from '../protocol/auth.js';
import { untilSignal } from './leader-command.js';
import { defaultMemberName } from './options.js';
import { VERSION } from './version.js';

export interface MemberCommandOptions {
  ip: string;
  port: number;
  musicDir: string;
  name?: string;
  audioDevice?: string;
  mpvArg: string[];
  mpvPath?: string;
  latencyOffset: number;
  secretFile?: string;
  verbose?: boolean;
  telemetry?: string;
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
  const name = o.name ?? defaultMemberName();
  const telemetry = o.telemetry ? new TelemetryWriter(o.telemetry, name) : null;
  const member = new Member({
    host: o.ip,
    port: o.port,
    musicDir,
    name,
    secret: o.secretFile ? readSecretFile(o.secretFile) : null,
    ...(o.audioDevice ? { audioDevice: o.audioDevice } : {}),
    mpvArgs: o.mpvArg,
    ...(o.mpvPath ? { mpvPath: o.mpvPath } : {}),
    latencyOffsetMs: o.latencyOffset,
    version: VERSION,
    log,
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
  await telemetry?.close();
}
