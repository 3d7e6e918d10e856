/**
 * Members check the leader's playlist against their own music dir: a missing or different file
 * is reported and never played (the member stays silent for that track), and a playlist entry
 * that would reach outside the music dir is refused.
 */
import { appendFileSync, copyFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashFile } from '../../src/playlist/content-hash.js';
import { BUNDLED_DIR, BUNDLED_FILES, Cluster, JsonLines, expectInSync, memberNamed, nowMs, sleep, sleepUntil } from './harness.js';

describe('file checks', () => {
  let cluster: Cluster;
  let fake: Server | null = null;
  const fakeSockets = new Set<Socket>();
  afterEach(async () => {
    await cluster?.cleanup();
    for (const s of fakeSockets) s.destroy();
    fakeSockets.clear();
    if (fake) await new Promise((r) => fake!.close(r));
    fake = null;
  });

  it('a member lacking track 1 is silent for it, one with a different copy of track 2 for that', async () => {
    cluster = new Cluster('syncplay-files');
    await cluster.startLeader();
    const lackingDir = cluster.musicDir('lacking', (d) => rmSync(join(d, BUNDLED_FILES[0])));
    const alteredDir = cluster.musicDir('altered', (d) => appendFileSync(join(d, BUNDLED_FILES[1]), Buffer.from([0])));
    const complete = await cluster.startMember({ name: 'complete' });
    const lacking = await cluster.startMember({ name: 'lacking', musicDir: lackingDir });
    const altered = await cluster.startMember({ name: 'altered', musicDir: alteredDir });

    const s = await cluster.waitFor('file checks reported', (st) => (['complete', 'lacking', 'altered'].every((n) => !['checking', 'unknown'].includes(memberNamed(st, n)?.fileStatus ?? 'unknown')) ? st : undefined));
    expect(memberNamed(s, 'complete')).toMatchObject({ fileStatus: 'ok', fileProblems: [] });
    expect(memberNamed(s, 'lacking')).toMatchObject({ fileStatus: 'missing', fileProblems: [{ index: 0, status: 'missing' }] });
    expect(memberNamed(s, 'altered')).toMatchObject({ fileStatus: 'different', fileProblems: [{ index: 1, status: 'different' }] });
    expect(lacking.proc.output).toMatch(/track 1 "01-morning-drift\.ogg": missing/);
    expect(altered.proc.output).toMatch(/track 2 "02-harbour-lights\.ogg": different/);
    const { tracks } = s;

    // Track 1: the lacking member stays silent while the others play it in sync.
    const play = await cluster.command({ cmd: 'play' });
    await cluster.waitFor('track 1: complete and altered playing, lacking silent', (st) =>
      memberNamed(st, 'complete')?.playerState === 'playing' && memberNamed(st, 'altered')?.playerState === 'playing' && memberNamed(st, 'lacking')?.playerState === 'silent',
      { timeoutMs: 10_000 },
    );
    await lacking.proc.waitForLine(/silent for track 1: file missing/);
    let from = play.at + 3000;
    await expectInSync(cluster, [complete, altered], play, tracks, from, from + 1500);
    expect(lacking.readings()).toHaveLength(0);

    // Track 2: now the altered member is silent and the lacking one plays.
    const next = await cluster.command({ cmd: 'next' });
    await cluster.waitFor('track 2: complete and lacking playing, altered silent', (st) =>
      memberNamed(st, 'complete')?.playerState === 'playing' && memberNamed(st, 'lacking')?.playerState === 'playing' && memberNamed(st, 'lacking')?.trackIndex === 1 && memberNamed(st, 'altered')?.playerState === 'silent',
      { timeoutMs: 10_000 },
    );
    await altered.proc.waitForLine(/silent for track 2: file different/);
    const silentSince = nowMs() + 300;
    from = next.at + 3000;
    await expectInSync(cluster, [complete, lacking], next, tracks, from, from + 1500);
    expect(altered.readings().filter((r) => r.localMs > silentSince)).toHaveLength(0);
  });

  it('playlist entries reaching outside the music dir are refused, never played', async () => {
    cluster = new Cluster('syncplay-escape');
    const musicDir = cluster.musicDir('music');
    // A real, valid audio file right next to the music dir, reachable three ways.
    const outside = join(cluster.tmp, 'outside.ogg');
    copyFileSync(join(BUNDLED_DIR, BUNDLED_FILES[0]), outside);
    symlinkSync('../outside.ogg', join(musicDir, 'link.ogg'));
    const hash = await hashFile(outside);
    const goodHash = await hashFile(join(musicDir, BUNDLED_FILES[0]));
    const playlist = [
      { path: '../outside.ogg', hash, durationSec: 24, title: 'dot-dot' },
      { path: 'link.ogg', hash, durationSec: 24, title: 'symlink' },
      { path: outside, hash, durationSec: 24, title: 'absolute' },
      { path: BUNDLED_FILES[0], hash: goodHash, durationSec: 24, title: 'legitimate' },
    ];

    // A fake leader over raw TCP: handshake, clock exchanges, heartbeats, a playing timeline.
    const statuses: Record<string, unknown>[] = [];
    let timeline = { seq: 1, state: 'playing', trackIndex: 0, positionSec: 0, at: nowMs() + 1500, repeat: 'off' };
    let peer: JsonLines | null = null;
    fake = createServer((socket) => {
      fakeSockets.add(socket);
      const conn = new JsonLines(socket);
      peer = conn;
      conn.send({ type: 'server-hello', protocol: 1, nonce: 'n0nce', authRequired: false, version: '0.0.0-fake' });
      let seen = 0;
      const heartbeat = setInterval(() => conn.send({ type: 'heartbeat', leaderMs: nowMs(), timeline }), 1000);
      socket.on('close', () => clearInterval(heartbeat));
      socket.on('data', () => {
        for (; seen < conn.received.length; seen++) {
          const m = conn.received[seen]!;
          if (m.type === 'hello') conn.send({ type: 'welcome', memberId: '1', playlist, timeline });
          else if (m.type === 'time-req') {
            const t2 = nowMs();
            conn.send({ type: 'time-res', id: m.id, t1: m.t1, t2, t3: nowMs() });
          } else if (m.type === 'status') statuses.push(m);
        }
      });
    });
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', () => r()));
    const port = (fake.address() as { port: number }).port;

    const member = await cluster.startMember({ name: 'escapee', musicDir, port, waitJoined: false });
    await member.proc.waitForLine(/joined leader/);
    const refused = await cluster.poll('a status reporting the refused tracks', () => statuses.find((st) => st.fileStatus === 'refused' && st.playerState === 'silent'), { timeoutMs: 15_000 });
    expect(refused.fileProblems).toEqual([
      { index: 0, status: 'refused' },
      { index: 1, status: 'refused' },
      { index: 2, status: 'refused' },
    ]);
    expect(member.proc.output).toMatch(/track 1 "\.\.\/outside\.ogg": refused: '\.\.' segments are not allowed/);
    expect(member.proc.output).toMatch(/track 2 "link\.ogg": refused: symlink points outside the music dir/);
    expect(member.proc.output).toMatch(/track 3 ".*outside\.ogg": refused: absolute paths are not allowed/);
    expect(member.proc.output).toMatch(/silent for track 1: file refused/);
    await sleepUntil(timeline.at + 1500);
    expect(member.readings()).toHaveLength(0);

    // The same fake leader moving to the legitimate track: the member plays it, so the silence
    // above was the refusal, not a broken fake.
    timeline = { seq: 2, state: 'playing', trackIndex: 3, positionSec: 0, at: nowMs() + 1000, repeat: 'off' };
    peer!.send({ type: 'timeline', timeline });
    const n = statuses.length;
    await cluster.poll('the member playing the legitimate track', () => statuses.slice(n).find((st) => st.playerState === 'playing' && st.trackIndex === 3), { timeoutMs: 10_000 });
    await sleep(500);
    expect(member.readings().length).toBeGreaterThan(0);
    expect(member.readings().every((r) => r.trackIndex === 3)).toBe(true);
  });
});
