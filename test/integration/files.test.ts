/**
 * Members check the leader's playlist against their own music dir: a missing or different file
 * is reported and never played (the member stays silent for that track), and a playlist entry
 * that would reach outside the music dir is refused.
 */
import { appendFileSync, copyFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Leader, type MemberView } from '../../src/leader/leader.js';
import { createLogger } from '../../src/log/logger.js';
import { hashFile } from '../../src/playlist/content-hash.js';
import { BUNDLED_DIR, BUNDLED_FILES, Cluster, expectConverged, memberNamed, nowMs, sleep } from './harness.js';

describe('file checks', () => {
  let cluster: Cluster;
  let leader: Leader | null = null;
  afterEach(async () => {
    await cluster?.cleanup();
    await leader?.stop();
    leader = null;
  });

  it('a member lacking track 1 is silent for it, one with a different copy of track 2 for that', async () => {
    cluster = new Cluster('syncplay-files');
    await cluster.startLeader();
    const lackingDir = cluster.musicDir('lacking', (d) => rmSync(join(d, BUNDLED_FILES[0])));
    const alteredDir = cluster.musicDir('altered', (d) => appendFileSync(join(d, BUNDLED_FILES[1]), Buffer.from([0])));
    const complete = await cluster.startMember({ name: 'complete' });
    // --no-fetch: these members keep to their own music dir (fetching is tested in fetch.test.ts).
    const lacking = await cluster.startMember({ name: 'lacking', musicDir: lackingDir, args: ['--no-fetch'] });
    const altered = await cluster.startMember({ name: 'altered', musicDir: alteredDir, args: ['--no-fetch'] });

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
    await expectConverged(cluster, [complete, altered], play, tracks, { holdMs: 1000 });
    expect(lacking.readings()).toHaveLength(0);

    // Track 2: now the altered member is silent and the lacking one plays.
    const next = await cluster.command({ cmd: 'next' });
    await cluster.waitFor('track 2: complete and lacking playing, altered silent', (st) =>
      memberNamed(st, 'complete')?.playerState === 'playing' && memberNamed(st, 'lacking')?.playerState === 'playing' && memberNamed(st, 'lacking')?.trackIndex === 1 && memberNamed(st, 'altered')?.playerState === 'silent',
      { timeoutMs: 10_000 },
    );
    await altered.proc.waitForLine(/silent for track 2: file different/);
    const silentSince = nowMs() + 300;
    await expectConverged(cluster, [complete, lacking], next, tracks, { holdMs: 1000 });
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

    // A leader in this process serving that playlist: the real leader code (same protocol, same
    // clock), given a playlist that loadPlaylist would never produce from a music dir.
    const leaderLog: string[] = [];
    leader = new Leader({
      host: '127.0.0.1',
      port: 0,
      tracks: playlist,
      secret: null,
      leadMs: 1000,
      version: '0.0.0-test',
      log: createLogger('info', 'in-process leader', (line) => leaderLog.push(line)),
    });
    await leader.start();

    const member = await cluster.startMember({ name: 'escapee', musicDir, port: leader.port, waitJoined: false });
    const viewOf = (): MemberView | undefined => leader!.status().members.find((m) => m.name === 'escapee');
    await cluster.poll('the member joined with its files checked', () => {
      const m = viewOf();
      return m && m.rttMs !== null && !['checking', 'unknown'].includes(m.fileStatus);
    });
    const play = leader.command({ kind: 'play' });
    expect(play.ok).toBe(true);
    const refused = await cluster.poll('the member silent for the refused track', () => {
      const m = viewOf();
      return m?.playerState === 'silent' ? m : undefined;
    }, { timeoutMs: 10_000 });
    expect(refused.fileStatus).toBe('refused');
    expect(refused.fileProblems).toEqual([
      { index: 0, status: 'refused' },
      { index: 1, status: 'refused' },
      { index: 2, status: 'refused' },
    ]);
    expect(member.proc.output).toMatch(/track 1 "\.\.\/outside\.ogg": refused: '\.\.' segments are not allowed/);
    expect(member.proc.output).toMatch(/track 2 "link\.ogg": refused: symlink points outside the music dir/);
    expect(member.proc.output).toMatch(/track 3 ".*outside\.ogg": refused: absolute paths are not allowed/);
    expect(member.proc.output).toMatch(/silent for track 1: file refused/);
    await sleep(1000);
    expect(member.readings()).toHaveLength(0);

    // The same leader moving to the legitimate track: the member plays it, so the silence
    // above was the refusal.
    expect(leader.command({ kind: 'play', trackIndex: 3 }).ok).toBe(true);
    await cluster.poll('the member playing the legitimate track', () => {
      const m = viewOf();
      return m?.playerState === 'playing' && m.trackIndex === 3;
    }, { timeoutMs: 10_000 });
    await sleep(500);
    expect(member.readings().length).toBeGreaterThan(0);
    expect(member.readings().every((r) => r.trackIndex === 3)).toBe(true);
  });
});
