/**
 * What scanning a music file found (content hash, duration, tags), kept on disk so that an
 * unchanged file is never read again: by the leader's next start, or by a member on the same
 * machine (both use $XDG_CACHE_HOME/syncplay/scan-v1/).
 *
 * - Key: the file's absolute path; a record is valid only while the file's size, mtime and inode
 *   are those it was made from (a rewrite, a touch or a replacement by rename invalidates it).
 * - Layout: SHARDS files (`<xx>.json`, by the first byte of sha1(path)), loaded on first use.
 *   A shard is small (about 400 records at 100,000 files), so saving what changed rewrites
 *   little, and a process that looks up ten files reads ten shards, not the whole cache.
 * - Writes are atomic: a shard is written to a temporary file and renamed over the old one; a
 *   crash of the process leaves the old shard or the new one, never half of one. No fsync: after
 *   a power cut a shard may come back empty or torn, and a shard that does not parse is an empty
 *   one (below) — for a cache, losing records costs a re-read, and 256 fsyncs per save cost seconds
 *   on an SD card. A shard is
 *   rewritten under its lock file (`<xx>.lock`, created exclusively; one left by a crashed
 *   process is taken over after LOCK_STALE_MS): the shard on disk is read again and merged, so a
 *   leader and a member saving at once keep each other's records.
 * - Versioned: the folder name carries FORMAT (a new format starts an empty cache), and a shard
 *   that does not parse or has another format is treated as empty and replaced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const SCAN_CACHE_FORMAT = 1;

/** Tunables of the scan cache. */
export const SCAN_CACHE = {
  /** shard files: 256 keeps each small up to a million files */
  SHARDS: 256,
  /** temporary files older than this are leftovers of a crash and are removed */
  STALE_TEMP_MS: 10 * 60_000,
  /** a shard lock older than this belongs to a process that died while saving */
  LOCK_STALE_MS: 10_000,
  /** how long to wait for a shard lock before saving that shard next time instead */
  LOCK_WAIT_MS: 2_000,
} as const;

/** The identity of a file's current content as the file system reports it. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface ScanRecord extends FileStamp {
  /** content hash (see content-hash.ts) */
  hash?: string;
  /** what the leader needs for its playlist; absent in records only a member made */
  meta?: { durationSec: number; title: string | null; artist: string | null };
}

type ShardFile = { format: number; records: Record<string, ScanRecord> };

/** $XDG_CACHE_HOME/syncplay, else ~/.cache/syncplay. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'syncplay');
}

export class ScanCache {
  readonly dir: string;
  private readonly shards = new Map<number, Promise<Map<string, ScanRecord>>>();
  private readonly dirty = new Map<number, Map<string, ScanRecord>>();
  private saving: Promise<void> = Promise.resolve();
  /** the first problem met writing the cache (it keeps working from memory) */
  lastError: string | null = null;

  constructor(cacheDir = defaultCacheDir()) {
    this.dir = path.join(cacheDir, `scan-v${SCAN_CACHE_FORMAT}`);
  }

  /** The record for `absPath` if it still describes the file as stamped now. */
  async get(absPath: string, now: FileStamp): Promise<ScanRecord | undefined> {
    const shard = await this.shard(shardOf(absPath));
    const r = shard.get(absPath);
    if (!r || r.size !== now.size || r.mtimeMs !== now.mtimeMs || r.ino !== now.ino) return undefined;
    return r;
  }

  /** Remembers `record` for `absPath` (saved by the next save()). */
  async set(absPath: string, record: ScanRecord): Promise<void> {
    const n = shardOf(absPath);
    const shard = await this.shard(n);
    shard.set(absPath, record);
    let d = this.dirty.get(n);
    if (!d) this.dirty.set(n, (d = new Map()));
    d.set(absPath, record);
  }

  get unsaved(): number {
    let n = 0;
    for (const d of this.dirty.values()) n += d.size;
    return n;
  }

  /** Writes every changed shard (atomically, merged with what is on disk). Never throws. */
  save(): Promise<void> {
    this.saving = this.saving.then(() => this.saveNow());
    return this.saving;
  }

  private async saveNow(): Promise<void> {
    if (this.dirty.size === 0) return;
    const work = [...this.dirty];
    this.dirty.clear();
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await this.removeStaleTemps();
      for (const [n, records] of work) {
        const saved = await withLock(`${this.shardPath(n)}.lock`, async () => {
          const onDisk = await readShard(this.shardPath(n));
          for (const [k, r] of records) onDisk.set(k, r);
          await writeAtomically(this.shardPath(n), JSON.stringify({ format: SCAN_CACHE_FORMAT, records: Object.fromEntries(onDisk) } satisfies ShardFile));
        });
        if (!saved) this.dirty.set(n, new Map([...records, ...(this.dirty.get(n) ?? [])]));
      }
    } catch (e) {
      this.lastError ??= `cannot save the scan cache in ${this.dir}: ${(e as Error).message}`;
    }
  }

  private shard(n: number): Promise<Map<string, ScanRecord>> {
    let s = this.shards.get(n);
    if (!s) this.shards.set(n, (s = readShard(this.shardPath(n))));
    return s;
  }

  private shardPath(n: number): string {
    return path.join(this.dir, `${n.toString(16).padStart(2, '0')}.json`);
  }

  private tempsChecked = false;
  private async removeStaleTemps(): Promise<void> {
    if (this.tempsChecked) return;
    this.tempsChecked = true;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.tmp')) continue;
      const p = path.join(this.dir, name);
      const st = await stat(p).catch(() => null);
      if (st && Date.now() - st.mtimeMs > SCAN_CACHE.STALE_TEMP_MS) await unlink(p).catch(() => {});
    }
  }
}

function shardOf(absPath: string): number {
  return createHash('sha1').update(absPath).digest()[0]! % SCAN_CACHE.SHARDS;
}

/** A shard's records; empty when it is missing, unreadable, corrupt or of another format. */
async function readShard(file: string): Promise<Map<string, ScanRecord>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return new Map();
  }
  try {
    const parsed = JSON.parse(text) as Partial<ShardFile>;
    if (parsed.format !== SCAN_CACHE_FORMAT || typeof parsed.records !== 'object' || parsed.records === null) return new Map();
    const out = new Map<string, ScanRecord>();
    for (const [k, r] of Object.entries(parsed.records)) if (isRecord(r)) out.set(k, r);
    return out;
  } catch {
    return new Map();
  }
}

function isRecord(r: unknown): r is ScanRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  if (typeof o.size !== 'number' || typeof o.mtimeMs !== 'number' || typeof o.ino !== 'number') return false;
  if (o.hash !== undefined && (typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash))) return false;
  if (o.meta !== undefined) {
    const m = o.meta as Record<string, unknown> | null;
    if (typeof m !== 'object' || m === null || typeof m.durationSec !== 'number' || !Number.isFinite(m.durationSec)) return false;
    if (m.title !== null && typeof m.title !== 'string') return false;
    if (m.artist !== null && typeof m.artist !== 'string') return false;
  }
  return true;
}

/** Runs `fn` holding the lock file `lock`; false (without running it) when the lock stays taken. */
async function withLock(lock: string, fn: () => Promise<void>): Promise<boolean> {
  const deadline = Date.now() + SCAN_CACHE.LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await stat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > SCAN_CACHE.LOCK_STALE_MS) {
        await unlink(lock).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
  try {
    await fn();
    return true;
  } finally {
    await unlink(lock).catch(() => {});
  }
}

/** Temp file, rename: readers see the old content or the new, never a mix. */
async function writeAtomically(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
}
