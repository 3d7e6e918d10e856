/**
 * Picks the leader to join among those found: the one named with --party (its party name or
 * id), else the only one, else the only one this device has paired with. Anything else is an
 * error that lists what was found.
 */
import { escapeText } from '../log/escape.js';
import type { DiscoveredLeader } from './service-type.js';

export function describeLeader(l: DiscoveredLeader): string {
  return `"${escapeText(l.partyName)}" at ${l.host}:${l.port} (${l.pairingRequired ? 'pairing required' : 'open'})`;
}

const listOf = (leaders: DiscoveredLeader[]): string => leaders.map((l) => `\n  ${describeLeader(l)}`).join('');

export function chooseLeader(leaders: DiscoveredLeader[], o: { party?: string; pairedPartyIds?: Iterable<string> }): DiscoveredLeader {
  if (o.party !== undefined) {
    const wanted = o.party.toLowerCase();
    const named = leaders.filter((l) => l.partyName.toLowerCase() === wanted || l.partyId === o.party);
    if (named.length === 1) return named[0]!;
    if (named.length === 0) throw new Error(`no leader of party "${escapeText(o.party)}" found; found:${listOf(leaders)}`);
    throw new Error(`${named.length} leaders call their party "${escapeText(o.party)}": pick one with --ip ADDRESS --port N:${listOf(named)}`);
  }
  if (leaders.length === 1) return leaders[0]!;
  const paired = new Set(o.pairedPartyIds ?? []);
  const mine = leaders.filter((l) => l.partyId !== null && paired.has(l.partyId));
  if (mine.length === 1) return mine[0]!;
  throw new Error(`${leaders.length} leaders found on the local network: pick one with --party NAME:${listOf(leaders)}`);
}
