/**
 * Finds leaders on the local network: asks for `_syncplay._tcp` over multicast DNS (again every
 * QUERY_INTERVAL_MS, in case a packet is lost) and collects the answers. Returns once a leader
 * has answered and SETTLE_MS passed without a new one, or at the timeout.
 */
import { Bonjour, type Service } from 'bonjour-service';
import { SERVICE_PROTOCOL, SERVICE_TYPE, type DiscoveredLeader } from './service-type.js';

/** Repeat the question this often while waiting: mDNS is UDP, a lost packet is normal. */
export const QUERY_INTERVAL_MS = 1000;
/** After the last new answer, wait this long for other leaders before deciding. */
export const SETTLE_MS = 600;

export interface BrowseOptions {
  timeoutMs: number;
  /** wait the whole timeout (list everything) instead of settling after the first answers */
  full?: boolean;
}

export interface BrowseResult {
  leaders: DiscoveredLeader[];
  /** why the question may not have gone out (e.g. no multicast route), if it failed */
  sendError: string | null;
  elapsedMs: number;
  /** ms from the first question to the first answer (null: none) */
  firstAnswerMs: number | null;
}

function toLeader(s: Service): DiscoveredLeader | null {
  const txt = (s.txt ?? {}) as Record<string, unknown>;
  const str = (k: string): string | null => (typeof txt[k] === 'string' ? (txt[k] as string) : null);
  // The address the answer came from is one the member can reach; announced ones may not be.
  const host = s.referer?.address ?? s.addresses?.find((a) => !a.includes(':')) ?? null;
  if (!host || !Number.isInteger(s.port) || s.port <= 0 || s.port > 65535) return null;
  const v = Number(str('v'));
  const id = str('id');
  return {
    partyName: (str('party') ?? s.name).slice(0, 64),
    partyId: id && /^[0-9a-f]{16}$/.test(id) ? id : null,
    host,
    port: s.port,
    protocol: Number.isInteger(v) ? v : null,
    clock: str('clock'),
    pairingRequired: str('pairing') !== 'open',
    instance: s.name.slice(0, 128),
  };
}

export function browseLeaders(o: BrowseOptions): Promise<BrowseResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let sendError: string | null = null;
    const bonjour = new Bonjour({}, (e: Error) => {
      sendError = e.message;
    });
    const found = new Map<string, DiscoveredLeader>();
    let settleTimer: NodeJS.Timeout | null = null;
    let firstAnswerMs: number | null = null;
    const finish = (): void => {
      clearInterval(requery);
      clearTimeout(deadline);
      if (settleTimer) clearTimeout(settleTimer);
      browser.stop();
      bonjour.destroy();
      resolve({ leaders: [...found.values()].sort((a, b) => a.partyName.localeCompare(b.partyName)), sendError, elapsedMs: Date.now() - started, firstAnswerMs });
    };
    const browser = bonjour.find({ type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL }, (s) => {
      const leader = toLeader(s);
      if (!leader) return;
      firstAnswerMs ??= Date.now() - started;
      found.set(`${leader.host}:${leader.port}`, leader);
      if (!o.full) {
        if (settleTimer) clearTimeout(settleTimer);
        settleTimer = setTimeout(finish, SETTLE_MS);
      }
    });
    const requery = setInterval(() => browser.update(), QUERY_INTERVAL_MS);
    const deadline = setTimeout(finish, o.timeoutMs);
  });
}
