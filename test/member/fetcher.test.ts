/**
 * The member's fetcher against the real file server, through a TCP proxy that corrupts or cuts
 * the leader's replies: a bad transfer is detected, refetched, and the file is handed to the
 * player only whole and verified; a partial download resumes; the cache stays under its cap.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileServer } from '../../src/leader/file-server.js';
import { createLogger } from '../../src/log/logger.js';
import { FileCheck } from '../../src/member/file-check.js';
import { FileCache } from '../../src/member/fetch/file-cache.js';
import { Fetcher } from '../../src/member/fetch/fetcher.js';
import { hashFile } from '../../src/playlist/content-hash.js';
import type { Track } from '../../src/protocol/index.js';

const CHUNK = 64 * 1024;
const SECRET = 'fetcher-test-secret';

/**
 * Forwards TCP to `target`; `tamper(n, data)` may rewrite (or return null: cut the connection)
 * the leader → member bytes, n = bytes already passed on that connection.
 */
class TamperingProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(
    private readonly target: () => number,
    public tamper: (n: number, data: Buffer) => Buffer | null = (_n, d) => d,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((down) => {
      const up = connect({ host: '127.0.0.1', port: this.target() });
      let passed = 0;
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      down.on('data', (d: Buffer) => up.write(d));
      up.on('data', (d: Buffer) => {
        const out = this.tamper(passed, d);
        passed += d.length;
        if (out === null) {
          down.destroy();
          up.destroy();
        } else down.write(out);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server!.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

interface Rig {
  dir: string;
  musicDir: string;
  tracks: Track[];
  server: FileServer;
  proxy: TamperingProxy;
  logs: string[];
  files: FileCheck;
  cache: FileCache;
  fetcher: Fetcher;
  supplied: number[];
}

let rig: Rig | null = null;

async function makeRig(o: { sizes: number[]; cacheBytes?: number; position?: number; syncMusic?: boolean }): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'syncplay-fetcher-'));
  const leaderDir = join(dir, 'leader');
  const musicDir = join(dir, 'member');
  mkdirSync(leaderDir);
  mkdirSync(musicDir);
  const tracks: Track[] = [];
  for (const [i, size] of o.sizes.entries()) {
    const name = `t${i + 1}.ogg`;
    writeFileSync(join(leaderDir, name), randomBytes(size));
    tracks.push({ path: name, hash: await hashFile(join(leaderDir, name)), durationSec: 30, title: name });
  }
  const logs: string[] = [];
  const log = createLogger('debug', 'member', (line) => logs.push(line));
  const server = new FileServer({ host: '127.0.0.1', port: 0, musicDir: leaderDir, secret: SECRET, tracks: () => tracks, log: createLogger('error', 'leader'), rateBytesPerSec: 0, chunkBytes: CHUNK });
  await server.start();
  const proxy = new TamperingProxy(() => server.port);
  await proxy.start();
  const files = new FileCheck(musicDir, log);
  const cache = new FileCache(join(dir, 'cache'), o.cacheBytes ?? 1e9, log);
  cache.open();
  const supplied: number[] = [];
  const position = o.position ?? 0;
  const fetcher = new Fetcher({
    cache,
    files,
    log,
    name: 'tester',
    secret: SECRET,
    source: () => ({ host: '127.0.0.1', port: proxy.port }),
    position: () => ({ trackIndex: position, repeat: 'off' }),
    onSupplied: (indices) => supplied.push(...indices),
    syncMusicDir: o.syncMusic ? musicDir : null,
  });
  rig = { dir, musicDir, tracks, server, proxy, logs, files, cache, fetcher, supplied };
  return rig;
}

async function until<T>(what: string, check: () => T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${rig?.logs.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function leaderBytes(r: Rig, i: number): Buffer {
  return readFileSync(join(r.dir, 'leader', r.tracks[i]!.path));
}

beforeEach(() => {
  rig = null;
});
afterEach(async () => {
  if (!rig) return;
  await rig.fetcher.stop();
  await rig.proxy.stop();
  await rig.server.stop();
  rmSync(rig.dir, { recursive: true, force: true });
});

describe('fetcher', () => {
  it('fetches what is missing in play order from the current track, and hands over only whole verified files', async () => {
    const r = await makeRig({ sizes: [3 * CHUNK + 5, 2 * CHUNK, 4 * CHUNK + 1], position: 1 });
    // Watch what the player could see: a track is either not ok, or ok with the complete file.
    const seen: string[] = [];
    const watch = setInterval(() => {
      r.tracks.forEach((_t, i) => {
        const f = r.files.file(i);
        if (f?.status === 'ok' && f.absPath) seen.push(readFileSync(f.absPath).equals(leaderBytes(r, i)) ? 'whole' : 'PARTIAL');
      });
    }, 1);
    await r.files.check(r.tracks);
    expect(r.files.summary().status).toBe('missing');
    r.fetcher.start();
    await until('all three playable', () => r.files.summary().status === 'ok');
    clearInterval(watch);
    expect(r.supplied).toEqual([1, 2, 0]); // the current track (2), the next (3), then the one before
    expect(seen).not.toContain('PARTIAL');
    for (let i = 0; i < 3; i++) expect(readFileSync(r.files.file(i)!.absPath!).equals(leaderBytes(r, i))).toBe(true);
    expect(readdirSync(r.musicDir)).toEqual([]); // never written into the music dir
    expect(r.fetcher.progress()).toMatchObject({ trackIndex: null, queued: 0, fetched: 3 });
  });

  it('detects a corrupted chunk and fetches it again', async () => {
    const r = await makeRig({ sizes: [6 * CHUNK] });
    let corrupted = 0;
    // Flip one byte deep inside the third reply body (well past the headers), once.
    r.proxy.tamper = (n, d) => {
      const at = 3 * CHUNK - n;
      if (corrupted === 0 && at >= 0 && at < d.length) {
        corrupted += 1;
        const copy = Buffer.from(d);
        copy[at] = copy[at]! ^ 0xff;
        return copy;
      }
      return d;
    };
    await r.files.check(r.tracks);
    r.fetcher.start();
    await until('the track playable', () => r.files.summary().status === 'ok');
    expect(corrupted).toBe(1);
    expect(r.logs.join('\n')).toMatch(/corrupt: its SHA-256 does not match the manifest; fetching it again/);
    expect(readFileSync(r.files.file(0)!.absPath!).equals(leaderBytes(r, 0))).toBe(true);
  });

  it('detects a truncated transfer (the connection cut mid-chunk) and resumes', async () => {
    const r = await makeRig({ sizes: [6 * CHUNK + 999] });
    let cuts = 0;
    r.proxy.tamper = (n, d) => {
      if (cuts === 0 && n + d.length > 2.5 * CHUNK) {
        cuts += 1;
        return null;
      }
      return d;
    };
    await r.files.check(r.tracks);
    r.fetcher.start();
    await until('the track playable', () => r.files.summary().status === 'ok');
    expect(cuts).toBe(1);
    expect(r.logs.join('\n')).toMatch(/transfer broke off|socket hang up|ECONNRESET/);
    expect(readFileSync(r.files.file(0)!.absPath!).equals(leaderBytes(r, 0))).toBe(true);
  });

  it('resumes a partial download from its verified chunks, refetching a damaged one', async () => {
    const r = await makeRig({ sizes: [8 * CHUNK + 10] });
    const whole = leaderBytes(r, 0);
    // An earlier run (a dead process) left 5 chunks, the 4th damaged, and the manifest.
    const { manifestFor } = await import('../../src/leader/file-manifest.js');
    const manifest = await manifestFor(join(r.dir, 'leader', 't1.ogg'), r.tracks[0]!.hash, CHUNK);
    const partial = Buffer.from(whole.subarray(0, 5 * CHUNK));
    partial[3 * CHUNK + 7] = partial[3 * CHUNK + 7]! ^ 1;
    const deadPid = 999_999;
    writeFileSync(join(r.cache.partialDir, `${r.tracks[0]!.hash}.${deadPid}.part`), partial);
    writeFileSync(join(r.cache.partialDir, `${r.tracks[0]!.hash}.${deadPid}.part.manifest.json`), JSON.stringify(manifest));
    await r.files.check(r.tracks);
    r.fetcher.start();
    await until('the track playable', () => r.files.summary().status === 'ok');
    expect(r.logs.join('\n')).toMatch(/resuming track 1 "t1\.ogg" at 0\.2 of 0\.5 MB/); // 3 good chunks of 64 KiB
    expect(r.server.stats.chunksServed).toBe(9 - 3);
    expect(readFileSync(r.files.file(0)!.absPath!).equals(whole)).toBe(true);
    expect(readdirSync(r.cache.partialDir)).toEqual([]);
  });

  it('keeps the cache under its cap by evicting the least recently used file, never one about to play', async () => {
    const r = await makeRig({ sizes: [4 * CHUNK, 4 * CHUNK, 4 * CHUNK], cacheBytes: 9 * CHUNK });
    // An old unrelated file in the cache, used long ago.
    const stale = join(r.cache.dir, `${'e'.repeat(64)}.ogg`);
    writeFileSync(stale, randomBytes(4 * CHUNK));
    utimesSync(stale, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const reopened = new FileCache(r.cache.dir, 9 * CHUNK, createLogger('error', 'x'));
    reopened.open();
    expect(reopened.has('e'.repeat(64))).toBe(true);
    (r as { cache: FileCache }).cache = reopened;
    const fetcher = new Fetcher({
      cache: reopened,
      files: r.files,
      log: createLogger('debug', 'member', (line) => r.logs.push(line)),
      name: 'tester',
      secret: SECRET,
      source: () => ({ host: '127.0.0.1', port: r.proxy.port }),
      position: () => ({ trackIndex: 0, repeat: 'off' }),
      onSupplied: (i) => r.supplied.push(...i),
    });
    r.fetcher = fetcher;
    await r.files.check(r.tracks);
    fetcher.start();
    await until('two tracks fetched, the third waiting for room', () => r.supplied.length === 2 && /cache full/.test(r.logs.join('\n')));
    expect(existsSync(stale)).toBe(false); // evicted for track 2
    expect(r.files.file(2)?.status).toBe('missing'); // tracks 1 and 2 are pinned: 3 waits
    expect(reopened.usedBytes).toBeLessThanOrEqual(9 * CHUNK);
  });

  it('--sync-music copies a fetched file into the music dir, never over a file that is there', async () => {
    const r = await makeRig({ sizes: [2 * CHUNK, 2 * CHUNK], syncMusic: true });
    writeFileSync(join(r.musicDir, 't2.ogg'), 'the user\'s own, different t2');
    await r.files.check(r.tracks);
    expect(r.files.file(1)?.status).toBe('different');
    r.fetcher.start();
    await until('both playable', () => r.files.summary().status === 'ok');
    expect(readFileSync(join(r.musicDir, 't1.ogg')).equals(leaderBytes(r, 0))).toBe(true);
    expect(readFileSync(join(r.musicDir, 't2.ogg'), 'utf8')).toBe('the user\'s own, different t2');
    expect(readFileSync(r.files.file(1)!.absPath!).equals(leaderBytes(r, 1))).toBe(true); // plays the cached copy
    expect(readdirSync(r.musicDir).sort()).toEqual(['t1.ogg', 't2.ogg']); // no temp files left
  });
});
