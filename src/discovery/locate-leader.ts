/** Where to find the leader: --ip as given, else discovery on the local network and a choice among what answered. */
import type { Logger } from '../log/logger.js';
import { chooseLeader, describeLeader } from './choose-leader.js';

/** How long a member looks for a leader before saying that discovery found none. */
export const DISCOVERY_TIMEOUT_MS = 5000;

export interface LocateOptions {
  ip?: string;
  port: number;
  party?: string;
  pairedPartyIds?: Iterable<string>;
  timeoutMs?: number;
  log: Logger;
}

export async function locateLeader(o: LocateOptions): Promise<{ host: string; port: number }> {
  if (o.ip) return { host: o.ip, port: o.port };
  const timeoutMs = o.timeoutMs ?? DISCOVERY_TIMEOUT_MS;
  o.log.info(`looking for a leader on the local network (mDNS, up to ${timeoutMs / 1000} s)…`);
  // Loaded only when needed: a member given --ip starts without the mDNS stack.
  const { browseLeaders } = await import('./browse.js');
  const result = await browseLeaders({ timeoutMs });
  if (result.leaders.length === 0) {
    throw new Error(
      `no leader answered on the local network within ${timeoutMs / 1000} s${result.sendError ? ` (multicast could not be sent: ${result.sendError})` : ''}. ` +
        'This network may not carry multicast DNS, or no leader is running: give the leader\'s address with --ip ADDRESS',
    );
  }
  const chosen = chooseLeader(result.leaders, { ...(o.party !== undefined ? { party: o.party } : {}), ...(o.pairedPartyIds ? { pairedPartyIds: o.pairedPartyIds } : {}) });
  o.log.info(`found ${describeLeader(chosen)} in ${result.elapsedMs} ms`);
  return { host: chosen.host, port: chosen.port };
}
