/** Whether a peer address is this machine: loopback, or one of this host's own interface addresses. */
import { networkInterfaces } from 'node:os';

export function isLocalAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (a === '::1' || a.startsWith('127.')) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.address === a) return true;
  }
  return false;
}
