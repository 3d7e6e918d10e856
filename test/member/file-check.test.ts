import { cpSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { FILE_CHECK, FileCheck } from '../../src/member/file-check.js';
import { hashFile } from '../../src/playlist/content-hash.js';
import { ScanCache } from '../../src/playlist/scan-cache.js';
import type { Track } from '../../src/protocol/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A music dir of `n` small real files (distinct content) and the leader's tracks for them. */
async function library(n: number): Promise<{ dir: string; tracks: Track[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'syncplay-check-'));
  dirs.push(dir);
  const tracks: Track[] = [];
  for (let i = 0; i < n; i++) {
    const path = `Artist ${i % 3}/Album/${String(i).padStart(3, '0')} It's track ${i}.ogg`;
    cpSync(join('playlists', '01-morning-drift.ogg'), join(dir, path));
    writeFileSync(join(dir, path), Buffer.from(`variant ${i}`), { flag: 'a' });
    tracks.push({ path, hash: await hashFile(join(dir, path)), durationSec: 60, title: `T${i}` });
  }
  return { dir, tracks };
}

describe('FileCheck', () => {
  it('checks the prioritised tracks first, then the rest, and counts checked / total', async () => {
    const { dir, tracks } = await library(40);
    const check = new FileCheck(dir, silentLogger, null);
    const order: number[] = [];
    check.onVerdict = (i) => order.push(i);
    const holes = new Array<Track>(tracks.length);
    check.setPlaylist(holes);
    expect(check.total).toBe(40);
    expect(check.file(30)).toBeNull(); // not arrived
    // The page holding track 30 arrives first (as the leader sends it), then the player asks for 30 and 31.
    for (let i = 20; i < 40; i++) holes[i] = tracks[i]!;
    check.prioritize([30, 31]);
    check.tracksArrived(20, 20);
    expect(check.file(25)?.status).toBe('checking');
    for (let i = 0; i < 20; i++) holes[i] = tracks[i]!;
    check.tracksArrived(0, 20);
    await check.idle();
    // 30 and 31 are the first to start: among the first verdicts (checks run CONCURRENCY at a time).
    expect(order.slice(0, FILE_CHECK.CONCURRENCY)).toEqual(expect.arrayContaining([30, 31]));
    // Arrival order after the priorities: 20..39 before 0..19. Verdicts of checks in flight together
    // may come back in any order, so only those started a full CONCURRENCY ahead of track 0 are sure
    // to be in before it: 20..29 (started right after 30 and 31).
    const firstOfSecondPage = Math.min(...Array.from({ length: 20 }, (_, i) => order.indexOf(i)));
    for (let i = 20; i < 30; i++) expect(order.indexOf(i)).toBeLessThan(firstOfSecondPage);
    expect(check.checked).toBe(40);
    expect(check.summary()).toEqual({ status: 'ok', problems: [] });
    expect(check.statusOf(5)).toBe('ok');
    expect(check.file(5)?.status).toBe('ok');
  });

  it('keeps the most recently played tracks open (at most OPEN_FILES_KEPT), the same descriptor while a track plays', async () => {
    const { dir, tracks } = await library(FILE_CHECK.OPEN_FILES_KEPT + 3);
    const check = new FileCheck(dir, silentLogger, null);
    check.setPlaylist(tracks);
    check.tracksArrived(0, tracks.length);
    await check.idle();
    const openFds = (): number => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir); } catch { return false; } }).length;
    const playing = check.file(0)!.absPath;
    // Asked again and again (the sync does, every tick): the same opened file, nothing new opened.
    for (let i = 0; i < 20; i++) expect(check.file(0)!.absPath).toBe(playing);
    expect(openFds()).toBe(1);
    // Other tracks opened since: the one asked for most recently is kept, the least recent closed.
    for (let i = 1; i <= FILE_CHECK.OPEN_FILES_KEPT; i++) {
      check.file(i);
      check.file(0);
    }
    expect(openFds()).toBe(FILE_CHECK.OPEN_FILES_KEPT);
    expect(check.file(0)!.absPath).toBe(playing);
    expect(check.file(1)!.absPath).not.toBe(undefined);
    expect(openFds()).toBe(FILE_CHECK.OPEN_FILES_KEPT);
  });

  it('reports missing, different and refused tracks and never offers them to play', async () => {
    const { dir, tracks } = await library(4);
    rmSync(join(dir, tracks[1]!.path));
    writeFileSync(join(dir, tracks[2]!.path), 'other content');
    const list = [...tracks, { ...tracks[0]!, path: '../outside.ogg' }];
    const check = new FileCheck(dir, silentLogger, null);
    await check.check(list);
    expect(check.file(0)?.status).toBe('ok');
    expect(check.file(1)).toMatchObject({ status: 'missing', absPath: null });
    expect(check.file(2)).toMatchObject({ status: 'different', absPath: null });
    expect(check.file(4)).toMatchObject({ status: 'refused', absPath: null });
    expect(check.summary().status).toBe('refused');
    // In playlist order, whatever order the verdicts came in (the refused path is decided first).
    expect(check.summary().problems.map((p) => p.index)).toEqual([1, 2, 4]);
  });

  it('answers from the scan cache the second time, and still notices a changed file', async () => {
    const { dir, tracks } = await library(6);
    const cacheDir = join(dir, '.cache');
    const first = new FileCheck(dir, silentLogger, new ScanCache(cacheDir));
    await first.check(tracks);
    const second = new FileCheck(dir, silentLogger, new ScanCache(cacheDir));
    writeFileSync(join(dir, tracks[3]!.path), 'changed');
    await second.check(tracks);
    expect(second.progressView().cached).toBe(5);
    expect(second.file(3)?.status).toBe('different');
  });
});
