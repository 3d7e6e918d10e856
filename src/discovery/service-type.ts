/**
 * What a leader announces with DNS-SD over multicast DNS: service `_syncplay._tcp`, instance
 * "<party> on <host>", and TXT records a member can choose by without connecting:
 *   v        protocol version          party    party name
 *   id       public party id (absent for an open party)
 *   clock    monotonic | utc           pairing  required | open
 */
export const SERVICE_TYPE = 'syncplay';
export const SERVICE_PROTOCOL = 'tcp' as const;

export interface LeaderAnnouncement {
  partyName: string;
  partyId: string | null;
  port: number;
  protocol: number;
  clock: 'monotonic' | 'utc';
  pairingRequired: boolean;
}

export function txtOf(a: LeaderAnnouncement): Record<string, string> {
  return {
    v: String(a.protocol),
    party: a.partyName,
    ...(a.partyId ? { id: a.partyId } : {}),
    clock: a.clock,
    pairing: a.pairingRequired ? 'required' : 'open',
  };
}

/** A leader found on the network. */
export interface DiscoveredLeader {
  partyName: string;
  partyId: string | null;
  host: string;
  port: number;
  protocol: number | null;
  clock: string | null;
  pairingRequired: boolean;
  /** the DNS-SD instance name */
  instance: string;
}
