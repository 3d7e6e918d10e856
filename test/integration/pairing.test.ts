/**
 * Secure by default: a leader started without --open creates its party secret and admits only
 * members that prove they hold it (a copy of the secret, or a pairing made with the join code).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, JsonLines } from './harness.js';

describe('pairing', () => {
  let cluster: Cluster;
  const conns: JsonLines[] = [];
  afterEach(async () => {
    for (const c of conns.splice(0)) c.close();
    await cluster?.cleanup();
  });

  it('a leader without --open creates a 0600 party secret and refuses members without it', async () => {
    cluster = new Cluster('syncplay-default-secret');
    const leader = await cluster.startLeader({ secure: true });
    const secretFile = join(cluster.tmp, 'leader-state', 'party-secret');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(leader.proc.output).toMatch(/created the party secret in .*party-secret/);
    expect(leader.proc.output).toMatch(/secret required/);
    const c = await JsonLines.connect(leader.port);
    conns.push(c);
    expect(await c.next((m) => m.type === 'server-hello')).toMatchObject({ authRequired: true });

    const stranger = await cluster.startMember({ name: 'stranger', waitJoined: false });
    await leader.proc.waitForLine(/refused "stranger": no secret given/);
    await cluster.startMember({ name: 'scripted', secretFile });
    expect(stranger.proc.output).not.toMatch(/joined leader/);
  });
});
