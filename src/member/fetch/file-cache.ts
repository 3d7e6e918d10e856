/**
 * The member's cache of fetched files: `<dir>/<hash><ext>` for complete, verified files, and
 * `<dir>/partial/<hash>.<pid>.part` (+ `.manifest.json`) for downloads in progress. Only the
 * fetcher writes here; the user's music dir is never touched.
 *
 * Size cap and eviction: complete files plus reserved room for the download in progress stay
 * under `capacityBytes`. Room is made by deleting the least recently used complete files (a
 * file's mtime is set when it is used, so the order survives a restart without an index file),
 * never a pinned one (the tracks about to play). A file is published by rename, so a crash leaves
 * either no file or a whole verified one; a partial download is re-verified chunk by chunk
 * before it is resumed.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { extname, join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { hashFile } from '../../playlist/content-hash.js';

export interface CachedFile {
  hash: string;
  path: string;
  size: number;
  usedMs: number;
}

/** 2 GiB: a party's worth (some 60 FLAC or 200 MP3 tracks), small beside a 16 GB SD card. */
export const DEFAULT_CACHE_BYTES = 2 * 1024 ** 3;

const COMPLETE = /^([0-9a-f]{64})(\.[a-z0-9]{1,8})?$/;
const PARTIAL = /^([0-9a-f]{64})\.(\d{1,10})\.part$/;

/** `$XDG_CACHE_HOME/syncplay/files`, else `~/.cache/syncplay/files`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'syncplay', 'files');
}

/** The extension a cached copy keeps (players probe content, but a familiar name helps), or ''. */
export function cacheExtension(trackPath: string): string {
  const ext = extname(trackPath).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

export class FileCache {
  private readonly files = new Map<string, CachedFile>();
  private reservedBytes = 0;
  readonly partialDir: string;

  constructor(
    readonly dir: string,
    readonly capacityBytes: number,
    private readonly log: Logger,
  ) {
    this.partialDir = join(dir, 'partial');
  }

  /** Creates the folders and indexes what is there; removes stray temp files. */
  open(): void {
    mkdirSync(this.partialDir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) {
      const full = join(this.dir, name);
      const m = COMPLETE.exec(name);
      if (m) {
        try {
          const st = statSync(full);
          if (st.isFile()) this.files.set(m[1]!, { hash: m[1]!, path: full, size: st.size, usedMs: st.mtimeMs });
        } catch {
          /* vanished */
        }
      } else if (name.endsWith('.tmp')) {
        rmSync(full, { force: true });
      }
    }
  }

  get usedBytes(): number {
    let total = 0;
    for (const f of this.files.values()) total += f.size;
    return total;
  }

  get entries(): CachedFile[] {
    return [...this.files.values()];
  }

  has(hash: string): boolean {
    return this.files.has(hash);
  }

  /**
   * The cached file for `hash`, checked again against the hash (cheap: sampled above 3 MiB and
   * remembered while unchanged) and marked used; null if absent or no longer right (then deleted).
   */
  async lookup(hash: string): Promise<string | null> {
    const entry = this.files.get(hash);
    if (!entry) return null;
    try {
      if ((await hashFile(entry.path)) !== hash) throw new Error('content no longer matches its hash');
    } catch (e) {
      this.log.warn(`cache: dropping ${entry.path}: ${(e as Error).message}`);
      this.remove(hash);
      return null;
    }
    this.touch(hash);
    return entry.path;
  }

  touch(hash: string): void {
    const entry = this.files.get(hash);
    if (!entry) return;
    const now = Date.now();
    entry.usedMs = now;
    try {
      utimesSync(entry.path, now / 1000, now / 1000);
    } catch {
      /* read-only or gone: the in-memory order still holds */
    }
  }

  remove(hash: string): void {
    const entry = this.files.get(hash);
    if (!entry) return;
    this.files.delete(hash);
    rmSync(entry.path, { force: true });
  }

  /**
   * Makes room for a download of `bytes` by evicting least recently used files that are not
   * pinned, and reserves it. False (nothing evicted) when it cannot fit.
   */
  reserve(bytes: number, pinned: ReadonlySet<string>): boolean {
    const limit = this.capacityBytes - this.reservedBytes;
    if (bytes > limit) return false;
    const candidates = [...this.files.values()].filter((f) => !pinned.has(f.hash)).sort((a, b) => a.usedMs - b.usedMs);
    let used = this.usedBytes;
    const evict: CachedFile[] = [];
    for (const f of candidates) {
      if (used + bytes <= limit) break;
      evict.push(f);
      used -= f.size;
    }
    if (used + bytes > limit) return false;
    for (const f of evict) {
      this.log.info(`cache: evicting ${f.hash.slice(0, 12)} (${(f.size / 1e6).toFixed(1)} MB, least recently used) to stay under ${(this.capacityBytes / 1e6).toFixed(0)} MB`);
      this.remove(f.hash);
    }
    this.reservedBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    this.reservedBytes = Math.max(0, this.reservedBytes - bytes);
  }

  /**
   * The partial download of `hash` for this process: an orphan left by a process that is gone
   * (or by an earlier run of this one) is adopted, so a download resumes across restarts.
   */
  partialFor(hash: string): { part: string; meta: string } {
    const own = join(this.partialDir, `${hash}.${process.pid}.part`);
    const result = { part: own, meta: `${own}.manifest.json` };
    for (const name of safeReaddir(this.partialDir)) {
      const m = PARTIAL.exec(name);
      if (!m || m[1] !== hash) continue;
      const pid = Number(m[2]);
      if (pid === process.pid) return result;
      if (isAlive(pid)) continue;
      const from = join(this.partialDir, name);
      try {
        renameSync(from, own);
        try {
          renameSync(`${from}.manifest.json`, result.meta);
        } catch {
          /* no manifest: the part will be discarded */
        }
        return result;
      } catch {
        /* another process adopted it first */
      }
    }
    return result;
  }

  discardPartial(hash: string): void {
    const { part, meta } = this.partialFor(hash);
    rmSync(part, { force: true });
    rmSync(meta, { force: true });
  }

  /** Publishes a verified download: rename into place and index it. */
  commit(hash: string, partPath: string, ext: string): string {
    const finalPath = join(this.dir, `${hash}${ext}`);
    renameSync(partPath, finalPath);
    rmSync(`${partPath}.manifest.json`, { force: true });
    const st = statSync(finalPath);
    this.files.set(hash, { hash, path: finalPath, size: st.size, usedMs: Date.now() });
    return finalPath;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
