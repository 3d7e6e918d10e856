/**
 * The leader announces its party on the local network (DNS-SD over multicast DNS) with
 * bonjour-service, which answers queries, probes for a name conflict, announces on start and
 * says goodbye on stop. `--no-advertise` skips this.
 */
import { hostname } from 'node:os';
import { Bonjour } from 'bonjour-service';
import type { Logger } from '../log/logger.js';
import { SERVICE_PROTOCOL, SERVICE_TYPE, txtOf, type LeaderAnnouncement } from './service-type.js';

export interface Advertiser {
  stop(): Promise<void>;
}

export function instanceName(partyName: string): string {
  return `${partyName} on ${hostname()}`.slice(0, 63);
}

export function advertise(a: LeaderAnnouncement, log: Logger): Advertiser {
  const bonjour = new Bonjour({}, (e: Error) => log.warn(`mDNS: ${e.message}`));
  const name = instanceName(a.partyName);
  const service = bonjour.publish({ name, type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL, port: a.port, txt: txtOf(a), disableIPv6: true });
  service.on('up', () => log.info(`announced on the local network as "${name}" (_${SERVICE_TYPE}._${SERVICE_PROTOCOL}): members find it without --ip`));
  service.on('error', (e: Error) => log.warn(`cannot announce "${name}" on the local network: ${e.message}; members need --ip`));
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        const done = setTimeout(resolve, 1000);
        bonjour.unpublishAll(() => {
          bonjour.destroy(() => {
            clearTimeout(done);
            resolve();
          });
        });
      }),
  };
}
