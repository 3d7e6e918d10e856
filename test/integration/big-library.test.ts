/**
 * A generated library of 5,000 files (nested folders, unicode names, MP3 and big sparse WAV):
 * the leader listens at once and scans in the background, the playlist reaches real members in
 * pages, a member plays a track deep in the list, and `ctl status` stays a summary (the full list
 * only with --tracks, complete through a pipe).
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LeaderStatus } from '../../src/leader/leader.js';
import type { Track } from '../../src/protocol/index.js';
import { makeLibrary } from '../../bench/make-library.js';
import { Cluster, expectConverged, memberNamed } from './harness.js';

const COUNT = 5000;

describe('a 5,000-track library', () => {
  const cluster = new Cluster('syncplay-big');
  cluster.statusWithTracks = false;
  afterAll(() => cluster.cleanup());

  it('plays end to end on real members while the rest is still being checked', async () => {
    const music = join(cluster.tmp, 'music');
    const lib = makeLibrary(music, { count: COUNT, seed: 9, minSec: 6, maxSec: 12 });
    expect(lib.bigFiles).toBeGreaterThan(100);
    // A second device: the same files, copied (other inodes and mtimes: nothing in the cache fits).
    const copy = join(cluster.tmp, 'copy');
    cpSync(music, copy, { recursive: true });

    const leader = await cluster.startLeader({ musicDir: music });
    // Listening before the scan is done, and answering status while it scans.
    const early = await cluster.status();
    expect(early.scan).not.toBeNull();
    expect(early.scan!.done).toBeLessThanOrEqual(early.scan!.total);
    const scanned = await cluster.waitFor('the scan to finish', (s) => (s.playlist.count === COUNT ? s : undefined), { timeoutMs: 240_000 });
    expect(scanned.scan).toMatchObject({ phase: 'done', done: COUNT, total: COUNT });
    expect(scanned.playlist.version).toBe(1);
    // The summary leaves the tracks out.
    expect((scanned as Partial<LeaderStatus>).tracks).toBeUndefined();

    const local = await cluster.startMember({ name: 'same-machine', musicDir: music });
    const other = await cluster.startMember({ name: 'other-device', musicDir: copy });
    await cluster.waitFor('both members to hold every track', (s) => ['same-machine', 'other-device'].every((n) => memberNamed(s, n)?.tracksReceived === COUNT));

    // `ctl status --json --tracks` through a pipe: complete, far beyond 64 KiB.
    const piped = await cluster.run(['ctl', '--socket', leader.socket, 'status', '--json', '--tracks'], 30_000);
    expect(piped.code).toBe(0);
    expect(piped.stdout.length).toBeGreaterThan(1024 * 1024);
    const tracks = (JSON.parse(piped.stdout) as { status: { tracks: Track[] } }).status.tracks;
    expect(tracks).toHaveLength(COUNT);
    expect(new Set(tracks.map((t) => t.hash)).size).toBe(COUNT);
    expect(tracks.some((t) => /[^\x00-\x7f]/.test(t.path) && t.path.includes("'"))).toBe(true);

    // Play a track deep in the list: both members follow it in sync, the one on another device
    // while it is still checking the rest.
    const at = 4321;
    const play = await cluster.command({ cmd: 'play', track: at });
    expect(play).toMatchObject({ trackIndex: at - 1, playlistVersion: 1 });
    await cluster.waitFor('both members playing the track', (s) => ['same-machine', 'other-device'].every((n) => memberNamed(s, n)?.playerState === 'playing' && memberNamed(s, n)?.trackIndex === at - 1), { timeoutMs: 30_000 });
    const during = memberNamed(await cluster.status(), 'other-device')!;
    await expectConverged(cluster, [local, other], play, tracks, { holdMs: 1000, withinMs: 15_000 });

    // Every file gets checked in the end; the member reported its progress on the way.
    const done = await cluster.waitFor('both members to have checked every file', (s) => (['same-machine', 'other-device'].every((n) => memberNamed(s, n)?.filesChecked === COUNT) ? s : undefined), { timeoutMs: 120_000 });
    for (const n of ['same-machine', 'other-device']) expect(memberNamed(done, n)).toMatchObject({ fileStatus: 'ok', filesTotal: COUNT, fileProblems: [] });
    expect(during.filesTotal).toBe(COUNT);
    // The member on this machine found the leader's scan in the shared cache.
    expect(local.proc.output).toMatch(/checked 5000 tracks in [\d.]+ s: all present and identical/);
    console.log(`other device: playing while ${during.filesChecked}/${COUNT} checked; leader scan ${scanned.scan!.elapsedSec.toFixed(1)} s`);
  }, 600_000);
});
