/**
 * The leader faces the network: bad input over raw TCP is answered with a precise `error` and
 * changes nothing, and a shared secret keeps out members that cannot prove they know it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, JsonLines, expectConverged, memberNamed, sleep } from './harness.js';
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';

describe('leader input', () => {
  let cluster: Cluster;
  const conns: JsonLines[] = [];
  afterEach(async () => {
    for (const c of conns.splice(0)) c.close();
    await cluster?.cleanup();
  });

  it('answers bad input over TCP with specific error codes and keeps serving', async () => {
    cluster = new Cluster('syncplay-badinput');
    const leader = await cluster.startLeader();
    const real = await cluster.startMember({ name: 'real' });
    const c = await JsonLines.connect(leader.port);
    conns.push(c);
    const hello = await c.next((m) => m.type === 'server-hello');
    expect(hello).toMatchObject({ protocol: PROTOCOL_VERSION, authRequired: false });

    const errorAfter = async (send: () => Promise<void> | void): Promise<Record<string, unknown>> => {
      const from = c.received.length;
      await send();
      return c.next((m) => m.type === 'error', 5000, from);
    };

    expect(await errorAfter(() => c.write('{"type": "hello", \n'))).toMatchObject({ type: 'error', code: 'malformed-json' });

    // 1 MB without a newline, then the newline: refused once, without parsing it.
    const from = c.received.length;
    const tooLong = await errorAfter(async () => {
      await c.write(Buffer.alloc(1024 * 1024, 0x61));
      await sleep(200);
      await c.write('\n');
    });
    expect(tooLong).toMatchObject({ code: 'line-too-long' });
    await sleep(300);
    expect(c.received.slice(from).filter((m) => m.type === 'error')).toHaveLength(1);

    expect(await errorAfter(() => c.write('{"type":"launch-rockets","count":3}\n'))).toMatchObject({ code: 'unknown-type' });
    expect(await errorAfter(() => c.write('[1,2,3]\n'))).toMatchObject({ code: 'not-an-object' });
    // Before joining, a well-formed message other than hello is refused too.
    expect(await errorAfter(() => c.send({ type: 'error', code: 'hi', message: 'before hello' }))).toMatchObject({ code: 'not-joined' });

    // The connection still works: a valid hello is welcomed...
    let n = c.received.length;
    c.send({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'raw-client', clientNonce: 'abc', version: 'test' });
    const welcome = await c.next((m) => m.type === 'welcome', 5000, n);
    expect(welcome.playlist).toMatchObject({ count: 3 });
    // The tracks follow in a page.
    expect(await c.next((m) => m.type === 'playlist-page', 5000, n)).toMatchObject({ start: 0, tracks: [{ path: '01-morning-drift.ogg' }, {}, {}] });
    // ...and garbage after it is still refused precisely.
    expect(await errorAfter(() => c.send({ type: 'time-req', id: 'one', t1: 0 }))).toMatchObject({ code: 'invalid-message' });
    expect(await errorAfter(() => c.send({ type: 'status', playerState: 'dancing' }))).toMatchObject({ code: 'invalid-message' });
    expect(await errorAfter(() => c.write('{"type":"time-req","id":1,"t1":\n'))).toMatchObject({ code: 'malformed-json' });
    n = c.received.length;
    c.send({ type: 'time-req', id: 7, t1: 123.5 });
    expect(await c.next((m) => m.type === 'time-res', 5000, n)).toMatchObject({ id: 7, t1: 123.5 });

    const leaderLog = leader.proc.output;
    for (const code of ['malformed-json', 'line-too-long', 'unknown-type', 'invalid-message']) expect(leaderLog).toMatch(new RegExp(`bad input from .*: ${code}`));

    // The leader is still up: status answers, and a real member plays in sync.
    const s = await cluster.status();
    expect(s.members.map((m) => m.name).sort()).toEqual(['raw-client', 'real']);
    expect(leader.proc.running).toBe(true);
    const timeline = await cluster.command({ cmd: 'play' });
    await cluster.waitFor('the real member playing', (st) => memberNamed(st, 'real')?.playerState === 'playing', { timeoutMs: 10_000 });
    await expectConverged(cluster, [real], timeline, s.tracks);
    expect(memberNamed(await cluster.status(), 'real')!.connected).toBe(true);
  });

  it('admits a member with the right secret and refuses wrong or missing ones', async () => {
    cluster = new Cluster('syncplay-secret');
    const secret = cluster.writeSecret('secret', 'correct horse battery staple');
    const wrong = cluster.writeSecret('wrong-secret', 'incorrect mule battery staple');
    const leader = await cluster.startLeader({ secretFile: secret });
    expect(leader.proc.output).toMatch(/secret required/);

    const trusted = await cluster.startMember({ name: 'trusted', secretFile: secret });
    const impostor = await cluster.startMember({ name: 'impostor', secretFile: wrong, waitJoined: false });
    const anonymous = await cluster.startMember({ name: 'anonymous', waitJoined: false });

    await impostor.proc.waitForLine(/leader error auth-failed: wrong secret/);
    await impostor.proc.waitForLine(/cannot join leader: leader says: wrong secret/);
    // Without a secret or a pairing, a member does not even try: it says how to pair and exits.
    await anonymous.proc.waitForLine(/needs this device to pair once: run {2}syncplay member --join CODE/);
    expect((await anonymous.proc.exited).code).toBe(1);
    await leader.proc.waitForLine(/refused "impostor": wrong secret/);
    expect(trusted.proc.output).toMatch(/joined leader 127\.0\.0\.1:\d+ as "trusted"/);

    // They keep retrying (with backoff) and keep being refused: never listed, never joined.
    for (let i = 0; i < 6; i++) {
      const s = await cluster.status();
      expect(s.members.map((m) => m.name)).toEqual(['trusted']);
      expect(memberNamed(s, 'trusted')!.connected).toBe(true);
      await sleep(500);
    }
    expect(impostor.proc.output).not.toMatch(/joined leader/);
    expect(anonymous.proc.output).not.toMatch(/joined leader/);
    // The secret itself never appears in any log.
    for (const p of cluster.procs) expect(p.output).not.toContain('correct horse');
  });
});
