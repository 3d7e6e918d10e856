/**
 * `syncplay pair [CODE]`: pair this device with a leader once and exit (the install step before
 * enabling the member service). Finds the leader like a member does; asks for the code on a
 * terminal when it is not given.
 */
import { resolve } from 'node:path';
import { locateLeader } from '../discovery/locate-leader.js';
import { createLogger } from '../log/logger.js';
import { askJoinCode } from '../party/ask-join-code.js';
import { establishMembership } from '../party/membership.js';
import { pairedPartyIds } from '../party/pairings.js';
import { defaultStateDir } from '../party/state-dir.js';
import { defaultMemberName } from './options.js';
import { VERSION } from './version.js';

export interface PairCommandOptions {
  ip?: string;
  port: number;
  party?: string;
  name?: string;
  stateDir?: string;
  discoverTimeout?: number;
  verbose?: boolean;
}

export async function runPair(code: string | undefined, o: PairCommandOptions): Promise<number> {
  const log = createLogger(o.verbose ? 'debug' : 'info');
  const stateDir = resolve(o.stateDir ?? defaultStateDir());
  const at = await locateLeader({ ...(o.ip ? { ip: o.ip } : {}), port: o.port, ...(o.party ? { party: o.party } : {}), pairedPartyIds: pairedPartyIds(stateDir), ...(o.discoverTimeout ? { timeoutMs: o.discoverTimeout } : {}), log });
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let join = code;
  if (join === undefined) {
    if (!interactive) throw new Error('give the join code: syncplay pair CODE (the leader shows it; `syncplay ctl pair` there)');
    join = await askJoinCode('the leader');
  }
  const m = await establishMembership({ host: at.host, port: at.port, ...(o.name ? { name: o.name } : {}), defaultName: defaultMemberName(), join, stateDir, version: VERSION, log });
  if (m.how === 'open') log.info('this party is open: no pairing needed');
  return 0;
}
