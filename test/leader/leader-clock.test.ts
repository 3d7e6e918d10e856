/**
 * The leader's member list under a UTC shared clock (--ntp): the shared clock is then far from
 * this machine's monotonic clock, and a member's status age and the time it was lost must still
 * be measured on one clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sharedMs } from '../../src/clock/time.js';
import { Leader } from '../../src/leader/leader.js';
import { silentLogger } from '../../src/log/logger.js';
import { LeaderLink } from '../../src/member/leader-link.js';
import type { Track } from '../../src/protocol/index.js';

const tracks: Track[] = [{ path: 'a.ogg', hash: 'a'.repeat(64), durationSec: 60, title: 'A' }];
const idleStatus = () => ({ errorMs: null, speed: null, trackIndex: null, playerState: 'idle' as const, latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0, fileStatus: 'ok' as const, fileProblems: [] });

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let leader: Leader | null = null;
let link: LeaderLink | null = null;
afterEach(async () => {
  link?.stop();
  await leader?.stop();
  leader = link = null;
});

describe('Leader with a UTC shared clock', () => {
  it('ages member statuses and keeps lost members listed on the local clock', async () => {
    leader = new Leader({ host: '127.0.0.1', port: 0, tracks, secret: null, leadMs: 300, version: '1', log: silentLogger, clock: () => sharedMs(Date.now()), clockKind: 'utc', settingsFile: null });
    await leader.start();
    link = new LeaderLink({ host: '127.0.0.1', port: leader.port, name: 'm1', secret: null, version: '1', log: silentLogger, status: idleStatus });
    link.start();
    const seen = await until('a status from m1', () => leader!.status().members.find((m) => m.name === 'm1' && m.statusAgeMs !== null));
    // A status just received is a few seconds old at most, not decades.
    expect(seen.statusAgeMs).toBeGreaterThanOrEqual(0);
    expect(seen.statusAgeMs).toBeLessThan(5000);

    link.stop();
    const lost = await until('m1 listed as lost', () => leader!.status().members.find((m) => m.name === 'm1' && !m.connected));
    expect(lost.connected).toBe(false);
    // Lost members stay listed for minutes, not until the next status() call.
    await new Promise((r) => setTimeout(r, 200));
    expect(leader.status().members.map((m) => m.name)).toEqual(['m1']);
  });
});
