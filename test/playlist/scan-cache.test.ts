import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileInfo } from '../../src/playlist/file-info.js';
import { parseFile } from 'music-metadata';
import { hashContent, hashFile, WHOLE_FILE_HASH_LIMIT } from '../../src/playlist/content-hash.js';
import { makeLibrary } from '../../bench/make-library.js';
import { SCAN_CACHE_FORMAT, ScanCache, defaultCacheDir } from '../../src/playlist/scan-cache.js';
import { BUNDLED_DIR, BUNDLED_FILES } from '../integration/harness.js';

const dirs: string[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncplay-cache-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const stampOf = (p: string) => {
  const st = statSync(p);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
};

describe('ScanCache', () => {
  it('lives under $XDG_CACHE_HOME/syncplay', () => {
    const was = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = '/some/cache';
    try {
      expect(defaultCacheDir()).toBe('/some/cache/syncplay');
      expect(new ScanCache('/some/cache/syncplay').dir).toBe(`/some/cache/syncplay/scan-v${SCAN_CACHE_FORMAT}`);
    } finally {
      if (was === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = was;
    }
  });

  it('answers for an unchanged file after a restart, not for a changed or replaced one', async () => {
    const dir = temp();
    const file = join(dir, 'a.ogg');
    writeFileSync(file, 'one');
    const cache = new ScanCache(join(dir, 'cache'));
    await cache.set(file, { ...stampOf(file), hash: 'a'.repeat(64) });
    await cache.save();
    // Another process (a new instance) reads it back.
    const again = new ScanCache(join(dir, 'cache'));
    expect((await again.get(file, stampOf(file)))?.hash).toBe('a'.repeat(64));
    // Touched: another mtime.
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await again.get(file, stampOf(file))).toBeUndefined();
    // Replaced by rename: another inode, same size and mtime.
    const before = stampOf(file);
    writeFileSync(join(dir, 'b.tmp'), 'one');
    expect(await again.get(file, { ...before, ino: before.ino + 1 })).toBeUndefined();
  });

  it('merges what two processes save, and leaves no temporary files', async () => {
    const dir = temp();
    const root = join(dir, 'cache');
    const a = new ScanCache(root);
    const b = new ScanCache(root);
    const stamp = { size: 1, mtimeMs: 1, ino: 1 };
    // Many keys, so that both write some of the same shards.
    for (let i = 0; i < 600; i++) await (i % 2 ? a : b).set(`/music/${i}.flac`, { ...stamp, hash: i.toString(16).padStart(64, '0') });
    await Promise.all([a.save(), b.save()]);
    const c = new ScanCache(root);
    let found = 0;
    for (let i = 0; i < 600; i++) if ((await c.get(`/music/${i}.flac`, stamp))?.hash === i.toString(16).padStart(64, '0')) found++;
    // Both saved sequentially per shard here (one event loop): nothing is lost.
    expect(found).toBe(600);
    expect(readdirSync(c.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('treats a corrupt or foreign shard as empty and replaces it', async () => {
    const dir = temp();
    const root = join(dir, 'cache');
    const first = new ScanCache(root);
    const stamp = { size: 1, mtimeMs: 1, ino: 1 };
    await first.set('/x.flac', { ...stamp, hash: 'b'.repeat(64) });
    await first.save();
    const [shard] = readdirSync(first.dir);
    writeFileSync(join(first.dir, shard!), '{"format":1,"records":{"/x.flac":{"size":1,"mtimeMs":1,"ino":1,"ha');
    const second = new ScanCache(root);
    expect(await second.get('/x.flac', stamp)).toBeUndefined();
    writeFileSync(join(first.dir, shard!), JSON.stringify({ format: 999, records: { '/x.flac': { ...stamp, hash: 'b'.repeat(64) } } }));
    expect(await new ScanCache(root).get('/x.flac', stamp)).toBeUndefined();
    writeFileSync(join(first.dir, shard!), JSON.stringify({ format: SCAN_CACHE_FORMAT, records: { '/x.flac': { ...stamp, hash: 'not a hash' } } }));
    expect(await new ScanCache(root).get('/x.flac', stamp)).toBeUndefined();
    const third = new ScanCache(root);
    await third.set('/x.flac', { ...stamp, hash: 'c'.repeat(64) });
    await third.save();
    expect(JSON.parse(readFileSync(join(first.dir, shard!), 'utf8')).format).toBe(SCAN_CACHE_FORMAT);
    expect((await new ScanCache(root).get('/x.flac', stamp))?.hash).toBe('c'.repeat(64));
  });
});

describe('fileInfo', () => {
  it('reads a real audio file once, then answers from the cache (also for a second process)', async () => {
    const dir = temp();
    const file = join(BUNDLED_DIR, BUNDLED_FILES[0]);
    const cache = new ScanCache(join(dir, 'cache'));
    const first = await fileInfo(file, { cache, meta: true });
    expect(first.fromCache).toBe(false);
    expect(first.hash).toBe(await hashFile(file));
    expect(first.meta?.durationSec).toBeGreaterThan(10);
    await cache.save();
    const member = new ScanCache(join(dir, 'cache'));
    const second = await fileInfo(file, { cache: member, meta: false });
    expect(second).toMatchObject({ fromCache: true, hash: first.hash });
    const leaderAgain = await fileInfo(file, { cache: member, meta: true });
    expect(leaderAgain).toEqual({ ...first, fromCache: true });
  });

  it('a record a member made (hash only) is completed by the leader, not trusted for tags it lacks', async () => {
    const dir = temp();
    const file = join(BUNDLED_DIR, BUNDLED_FILES[1]);
    const cache = new ScanCache(join(dir, 'cache'));
    expect((await fileInfo(file, { cache, meta: false })).meta).toBeUndefined();
    const leader = await fileInfo(file, { cache, meta: true });
    expect(leader.fromCache).toBe(false);
    expect(leader.meta?.durationSec).toBeGreaterThan(10);
    expect((await fileInfo(file, { cache, meta: true })).fromCache).toBe(true);
  });

  it('reads a small file once for tags and hash: the same duration, tags and hash as reading it twice', async () => {
    const dir = temp();
    // 33 MP3s (ID3v2 + CBR frames, no Xing header) and one sparse WAV over 3 MiB, as the benchmark's library.
    const lib = makeLibrary(join(dir, 'music'), { count: 34, seed: 3, bigEvery: 34 });
    const files = [...lib.paths.map((p) => join(dir, 'music', p)), ...BUNDLED_FILES.map((f) => join(BUNDLED_DIR, f))];
    let small = 0;
    for (const file of files) {
      const info = await fileInfo(file, { cache: null, meta: true });
      const reference = await parseFile(file, { duration: true, skipCovers: true });
      expect(info.meta?.durationSec, file).toBe(reference.format.duration);
      expect(info.meta?.title ?? undefined, file).toBe(reference.common.title);
      expect(info.meta?.artist ?? undefined, file).toBe(reference.common.artist);
      expect(info.hash, file).toBe(await hashFile(file));
      if (statSync(file).size <= WHOLE_FILE_HASH_LIMIT) {
        small++;
        expect(hashContent(readFileSync(file))).toBe(info.hash);
      }
    }
    expect(small).toBeGreaterThanOrEqual(33);
    expect(files.length - small).toBeGreaterThanOrEqual(1);
  });
});
