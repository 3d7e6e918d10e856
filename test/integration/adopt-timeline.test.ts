/**
 * A leader whose saved party is gone (state dir wiped, a new SD card) restarts while members play:
 * the first authenticated member to return offers the timeline it plays, and the leader carries on
 * with it instead of stopping everyone. Real leader, member and mpv (--ao=null).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, memberNamed, sleep, sleepUntil } from './harness.js';

describe('leader without its saved party', () => {
  let cluster: Cluster;
  afterEach(() => cluster?.cleanup());

  it("adopts a returning member's timeline: the music goes on", async () => {
    cluster = new Cluster('syncplay-adopt');
    const leader = await cluster.startLeader({ secure: true });
    const secretFile = join(cluster.tmp, 'leader-state', 'party-secret');
    await cluster.startMember({ name: 'den', secretFile });
    const timeline = await cluster.command({ cmd: 'play' });
    await cluster.waitFor('the member playing', (s) => memberNamed(s, 'den')?.playerState === 'playing', { timeoutMs: 15_000 });
    await sleepUntil(timeline.at + 1500);
    const seeks = memberNamed(await cluster.status(), 'den')!.hardSeeks;

    leader.proc.kill('SIGKILL');
    await leader.proc.exited;
    rmSync(join(cluster.tmp, 'leader-state', 'party.json'));
    const again = await cluster.startLeader({ secure: true, port: leader.port });
    await again.proc.waitForLine(/no saved party: adopted the timeline member "den"/, 20_000);
    const s = await cluster.waitFor('the member back, playing', (st) => (memberNamed(st, 'den')?.connected && memberNamed(st, 'den')?.playerState === 'playing' ? st : undefined), { timeoutMs: 15_000 });
    expect(s.timeline.seq).toBe(timeline.seq);
    expect(s.timeline.state).toBe('playing');
    await sleep(2000);
    expect(memberNamed(await cluster.status(), 'den')!.hardSeeks).toBe(seeks);
  });
});
