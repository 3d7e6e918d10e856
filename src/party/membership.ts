/**
 * How a member or calibrator proves itself to a leader, decided before it joins:
 *   --secret-file            the party secret itself (scripted installs)
 *   an open leader           nothing to prove
 *   --join CODE              pair now with the join code, remember the key, use it
 *   a stored pairing         the key from an earlier pairing with this party (by party id)
 *   the leader's own device  the party secret in this device's state dir (same party id)
 *   a terminal               ask for the join code, then pair
 * and otherwise a clear error saying how to pair.
 */
import type { Logger } from '../log/logger.js';
import type { PartyInfo } from '../protocol/index.js';
import { loadPartySecret, loadPartySecretFile } from './party-secret.js';
import { pairWithLeader, readServerHello, type ServerHello } from './pair-with-leader.js';
import { readPairings, savePairing } from './pairings.js';

export interface Membership {
  /** what the hello is proved with (party secret or own key); null for an open party */
  secret: string | null;
  /** the name to join under (a pairing is bound to the name it was made with) */
  name: string;
  party: PartyInfo | null;
  how: 'secret-file' | 'open' | 'paired-now' | 'paired' | 'leader-device';
}

export interface MembershipOptions {
  host: string;
  port: number;
  /** --name, if given */
  name?: string;
  defaultName: string;
  secretFile?: string;
  /** --join CODE */
  join?: string;
  stateDir: string;
  version: string;
  log: Logger;
  /** asks the person at the terminal for the join code (absent: not a terminal) */
  askCode?: (partyName: string) => Promise<string>;
  /** keep asking an unreachable leader (a member started before its leader) instead of failing */
  waitForLeader?: boolean;
}

const RETRY_MS = 2000;

async function helloOf(o: MembershipOptions): Promise<ServerHello> {
  let said = false;
  for (;;) {
    try {
      return await readServerHello(o.host, o.port);
    } catch (e) {
      if (!o.waitForLeader) throw e;
      if (!said) o.log.warn(`${(e as Error).message}; waiting for it`);
      said = true;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}

export async function establishMembership(o: MembershipOptions): Promise<Membership> {
  if (o.secretFile) {
    const party = loadPartySecretFile(o.secretFile);
    return { secret: party.secret, name: o.name ?? o.defaultName, party: null, how: 'secret-file' };
  }
  const hello = await helloOf(o);
  if (!hello.authRequired) return { secret: null, name: o.name ?? o.defaultName, party: hello.party ?? null, how: 'open' };
  const party = hello.party;
  if (!party?.id) throw new Error(`the leader at ${o.host}:${o.port} requires a secret but names no party (an older syncplay?): pass --secret-file`);
  const partyId = party.id;

  const pairNow = async (code: string): Promise<Membership> => {
    const name = o.name ?? o.defaultName;
    const result = await pairWithLeader({ host: o.host, port: o.port, code, name, version: o.version });
    savePairing(o.stateDir, partyId, { partyName: result.party.name, memberName: name, key: result.key, pairedAt: new Date().toISOString() });
    o.log.info(`paired with party "${result.party.name}" as "${name}"; remembered in ${o.stateDir} (no code needed from now on)`);
    return { secret: result.key, name, party: result.party, how: 'paired-now' };
  };

  if (o.join) return pairNow(o.join);
  const stored = readPairings(o.stateDir).get(partyId);
  if (stored) {
    if (o.name !== undefined && o.name !== stored.memberName) {
      throw new Error(`this device paired with party "${stored.partyName}" as "${stored.memberName}": to join as "${o.name}", pair again with --join CODE --name ${o.name}`);
    }
    return { secret: stored.key, name: stored.memberName, party, how: 'paired' };
  }
  const own = loadPartySecret(o.stateDir);
  if (own && own.id === partyId) return { secret: own.secret, name: o.name ?? o.defaultName, party, how: 'leader-device' };
  if (o.askCode) return pairNow(await o.askCode(party.name));
  throw new Error(
    `party "${party.name}" at ${o.host}:${o.port} needs this device to pair once: run  syncplay member --join CODE ...  with the join code the leader shows (on its screen, or \`syncplay ctl pair\` there)`,
  );
}
