/**
 * Gets the playlist files this member lacks (missing, or different from the leader's) from the
 * leader into the cache, one at a time, in play order from the current track: the track playing
 * now first, then the next. Between chunks it looks again, so a skip to another track moves the
 * fetch there within a chunk; the file it leaves stays partial and resumes later. A file is
 * handed to the player (FileCheck.supply) only once every chunk and the playlist hash of the
 * whole have been verified, so a partial file is never played. Failures back off and retry; the
 * rest of the party never waits for this member.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { monotonicMs } from '../../clock/monotonic.js';
import type { Logger } from '../../log/logger.js';
import { hashFile } from '../../playlist/content-hash.js';
import { resolveInside } from '../../playlist/safe-path.js';
import { chunkRange, manifestSchema, sha256Hex, type Manifest } from '../../protocol/file-transfer.js';
import type { RepeatMode, Track } from '../../protocol/index.js';
import type { FileCheck } from '../file-check.js';
import { FetchClient, TransferError } from './fetch-client.js';
import { writeFileAtomic } from '../../state/atomic-file.js';
import { cacheExtension, type FileCache } from './file-cache.js';

/** What the member reports about fetching (status line, leader's ctl status and UI). */
export interface FetchProgress {
  /** the track being fetched now, or null */
  trackIndex: number | null;
  doneBytes: number;
  totalBytes: number;
  /** recent throughput, bytes/s */
  rateBps: number;
  /** tracks still to fetch (including the current one) */
  queued: number;
  /** files fetched and verified since start */
  fetched: number;
  /** the last failure, while it is being backed off */
  error: string | null;
}

export interface FetcherOptions {
  cache: FileCache;
  files: FileCheck;
  log: Logger;
  name: string;
  secret: string | null;
  /** where the leader serves files, or null (not joined / not serving) */
  source: () => { host: string; port: number } | null;
  /** the track the timeline is at now, and what follows the last */
  position: () => { trackIndex: number; repeat: RepeatMode } | null;
  /** called with the track indices that became playable */
  onSupplied: (indices: number[]) => void;
  /** copy verified files into this music dir too (--sync-music), where no file is in the way */
  syncMusicDir?: string | null;
}

/** Tunables of the member's side, each with why. */
export const FETCHER = {
  /** Attempts per chunk before the file is given up for now: a corrupt or cut chunk is refetched. */
  CHUNK_ATTEMPTS: 5,
  /** Back-off after a failed file: doubling from the first to the last. */
  RETRY_FIRST_MS: 2_000,
  RETRY_MAX_MS: 60_000,
  /** How far back the displayed rate looks. */
  RATE_WINDOW_MS: 3_000,
} as const;

type Job = { hash: string; index: number; track: Track };

export class Fetcher {
  private stopped = true;
  private wakeUp: (() => void) | null = null;
  private wokenWhileBusy = false;
  private client: FetchClient | null = null;
  private readonly failures = new Map<string, { count: number; retryAtMs: number; error: string; permanent: boolean }>();
  private current: { job: Job; done: number; total: number } | null = null;
  private readonly samples: { atMs: number; bytes: number }[] = [];
  private fetched = 0;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: FetcherOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    this.client?.close();
    await this.loop;
  }

  /**
   * Something changed (the playlist, its check, the timeline, the leader): look again. A wake
   * that comes while the loop is busy (not asleep) is kept, so the loop's next sleep returns at
   * once: otherwise a verdict that arrives while a cached file is being verified would be lost
   * and the track it made wanted would wait for the next unrelated change.
   */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    if (w) w();
    else this.wokenWhileBusy = true;
  }

  progress(): FetchProgress {
    const now = monotonicMs();
    while (this.samples.length && now - this.samples[0]!.atMs > FETCHER.RATE_WINDOW_MS) this.samples.shift();
    const bytes = this.samples.reduce((n, s) => n + s.bytes, 0);
    const spanMs = this.samples.length ? Math.max(1000, now - this.samples[0]!.atMs) : 1;
    const failure = [...this.failures.values()].find((f) => f.retryAtMs > now || f.permanent);
    return {
      trackIndex: this.current?.job.index ?? null,
      doneBytes: this.current?.done ?? 0,
      totalBytes: this.current?.total ?? 0,
      rateBps: this.samples.length ? (bytes / spanMs) * 1000 : 0,
      queued: this.wanted().length,
      fetched: this.fetched,
      error: failure?.error ?? null,
    };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.wokenWhileBusy = false;
      const job = await this.nextJob();
      if (this.stopped) break;
      if (!job) {
        await this.sleep(this.nextRetryInMs());
        continue;
      }
      try {
        const outcome = await this.fetch(job);
        if (outcome === 'no-room') await this.sleep(null);
      } catch (e) {
        this.fail(job, (e as Error).message, false);
      } finally {
        if (this.current) this.opts.files.setFetching(this.current.job.hash, false);
        this.current = null;
      }
    }
  }

  private fail(job: Job, error: string, permanent: boolean): void {
    const prev = this.failures.get(job.hash);
    const count = (prev?.count ?? 0) + 1;
    const delay = Math.min(FETCHER.RETRY_MAX_MS, FETCHER.RETRY_FIRST_MS * 2 ** (count - 1));
    this.failures.set(job.hash, { count, retryAtMs: monotonicMs() + delay, error, permanent });
    this.opts.log.warn(`fetching track ${job.index + 1} "${job.track.path}" failed: ${error}${permanent ? '' : `; retrying in ${(delay / 1000).toFixed(0)} s`}`);
  }

  private sleep(ms: number | null): Promise<void> {
    if (this.wokenWhileBusy) {
      this.wokenWhileBusy = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = ms === null ? null : setTimeout(() => this.wake(), Math.max(50, ms));
      this.wakeUp = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      if (this.stopped) this.wake();
    });
  }

  private nextRetryInMs(): number | null {
    const now = monotonicMs();
    let soonest: number | null = null;
    for (const f of this.failures.values()) if (!f.permanent && f.retryAtMs > now) soonest = Math.min(soonest ?? Infinity, f.retryAtMs - now);
    return soonest;
  }

  /**
   * Play order from the current track: now, next, …, then the ones before it; the k-th in that
   * order is (start + k) mod n. The callers loop over it rather than build it: every status report
   * walks it (progress() counts what is queued), and an array of a 100k-track playlist would be
   * 800 KB a second for nothing while no file is missing.
   */
  private orderStart(): number {
    const n = this.opts.files.playlist.length;
    const at = this.opts.position();
    return at ? Math.min(Math.max(0, at.trackIndex), Math.max(0, n - 1)) : 0;
  }

  /** Tracks that need a fetch, in play order, one per distinct hash, not in back-off. */
  private wanted(): Job[] {
    const tracks = this.opts.files.playlist;
    const seen = new Set<string>();
    const out: Job[] = [];
    const now = monotonicMs();
    const start = this.orderStart();
    for (let k = 0; k < tracks.length; k++) {
      const i = (start + k) % tracks.length;
      const t = tracks[i];
      const status = this.opts.files.statusOf(i);
      if (!t || seen.has(t.hash) || !(status === 'missing' || status === 'different' || status === 'fetching')) continue;
      seen.add(t.hash);
      const f = this.failures.get(t.hash);
      if (f && (f.permanent || f.retryAtMs > now)) continue;
      out.push({ hash: t.hash, index: i, track: t });
    }
    return out;
  }

  /** The first wanted track; files already in the cache are supplied on the way. */
  private async nextJob(): Promise<Job | null> {
    for (const job of this.wanted()) {
      const cached = await this.opts.cache.lookup(job.hash);
      if (cached) {
        this.supply(job.hash, cached, 'from the cache');
        continue;
      }
      if (!this.opts.source()) return null;
      return job;
    }
    return null;
  }

  private clientFor(): FetchClient {
    const source = this.opts.source();
    if (!source) throw new TransferError('not connected to the leader');
    if (!this.client || this.client.target !== `${source.host}:${source.port}`) {
      this.client?.close();
      this.client = new FetchClient({ host: source.host, port: source.port, name: this.opts.name, secret: this.opts.secret, log: this.opts.log });
    }
    return this.client;
  }

  private supply(hash: string, absPath: string, how: string): void {
    const indices = this.opts.files.supply(hash, absPath, how);
    if (indices.length) {
      this.opts.log.info(`track ${indices.map((i) => i + 1).join(', ')} playable ${how}`);
      this.opts.onSupplied(indices);
    }
  }

  /** The hashes that must stay in the cache while `job` is fetched: the tracks up to it in play order. */
  private pinned(job: Job): Set<string> {
    const tracks = this.opts.files.playlist;
    const out = new Set<string>();
    const start = this.orderStart();
    for (let k = 0; k < tracks.length; k++) {
      const i = (start + k) % tracks.length;
      const t = tracks[i];
      if (!t) continue;
      out.add(t.hash);
      if (i === job.index) break;
    }
    return out;
  }

  private async fetch(job: Job): Promise<'done' | 'yielded' | 'no-room'> {
    const client = this.clientFor();
    const manifest = await client.manifest(job.hash);
    if (manifest.size > this.opts.cache.capacityBytes) {
      this.fail(job, `the file (${(manifest.size / 1e6).toFixed(1)} MB) is larger than the whole cache (--cache-size ${(this.opts.cache.capacityBytes / 1e6).toFixed(0)} MB)`, true);
      return 'done';
    }
    if (!this.opts.cache.reserve(manifest.size, this.pinned(job))) {
      this.opts.log.info(`cache full of the tracks that play before track ${job.index + 1}: fetching it once one of them is played`);
      return 'no-room';
    }
    try {
      return await this.download(client, job, manifest);
    } finally {
      this.opts.cache.release(manifest.size);
    }
  }

  private async download(client: FetchClient, job: Job, manifest: Manifest): Promise<'done' | 'yielded'> {
    const { part, meta } = this.opts.cache.partialFor(job.hash);
    const have = await resumePoint(part, meta, manifest);
    if (have === 0) {
      writeFileAtomic(meta, JSON.stringify(manifest), { mode: 0o644 });
    }
    this.current = { job, done: Math.min(manifest.size, have * manifest.chunkSize), total: manifest.size };
    this.opts.files.setFetching(job.hash, true);
    if (have > 0) this.opts.log.info(`resuming track ${job.index + 1} "${job.track.path}" at ${(this.current.done / 1e6).toFixed(1)} of ${(manifest.size / 1e6).toFixed(1)} MB`);
    else this.opts.log.info(`fetching track ${job.index + 1} "${job.track.path}" (${(manifest.size / 1e6).toFixed(1)} MB) from the leader`);
    // Writes and the final sync go through the thread pool: the event loop (the player's
    // readings, the time exchanges) never waits for the disk.
    const handle = await open(part, have === 0 ? 'w' : 'r+');
    try {
      for (let i = have; i < manifest.chunks.length; i++) {
        if (this.stopped) return 'yielded';
        const first = this.wanted()[0];
        if (first && first.hash !== job.hash) {
          this.opts.log.info(`track ${first.index + 1} comes first now: pausing the fetch of track ${job.index + 1}`);
          return 'yielded';
        }
        const data = await this.chunkWithRetries(client, job, manifest, i);
        await handle.write(data, 0, data.length, chunkRange(manifest, i).start);
        this.current.done = Math.min(manifest.size, chunkRange(manifest, i).end);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Every chunk matched the manifest; now the whole must carry the playlist's hash.
    const whole = await hashFile(part).catch((e: Error) => `unreadable: ${e.message}`);
    if (whole !== job.hash) {
      this.opts.cache.discardPartial(job.hash);
      throw new TransferError(`the assembled file's hash ${whole.slice(0, 12)} is not the playlist's ${job.hash.slice(0, 12)}`);
    }
    const finalPath = this.opts.cache.commit(job.hash, part, cacheExtension(job.track.path));
    this.fetched += 1;
    this.failures.delete(job.hash);
    this.opts.log.info(`fetched track ${job.index + 1} "${job.track.path}" (${(manifest.size / 1e6).toFixed(1)} MB), verified`);
    if (this.opts.syncMusicDir) this.copyIntoMusicDir(job.track, finalPath);
    this.supply(job.hash, finalPath, 'from the cache');
    return 'done';
  }

  private async chunkWithRetries(client: FetchClient, job: Job, manifest: Manifest, i: number): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      try {
        const base = chunkRange(manifest, i).start;
        let received = 0;
        return await client.chunk(manifest, i, (n) => {
          received += n;
          this.samples.push({ atMs: monotonicMs(), bytes: n });
          if (this.samples.length > 10_000) this.samples.splice(0, 5000);
          if (this.current) this.current.done = base + received;
        });
      } catch (e) {
        if (!(e instanceof TransferError) || (e.status !== null && e.status !== 503) || attempt >= FETCHER.CHUNK_ATTEMPTS || this.stopped) throw e;
        this.opts.log.warn(`track ${job.index + 1}: ${e.message}; fetching it again (attempt ${attempt + 1} of ${FETCHER.CHUNK_ATTEMPTS})`);
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /** --sync-music: a copy into the music dir at the track's path, unless a file is already there. */
  private copyIntoMusicDir(track: Track, from: string): void {
    const dir = this.opts.syncMusicDir!;
    const resolved = resolveInside(dir, track.path);
    if (!resolved.ok) return;
    if (existsSync(resolved.absPath)) {
      this.opts.log.info(`--sync-music: leaving "${track.path}" in the music dir as it is (it differs from the leader's; playing the cached copy)`);
      return;
    }
    const tmp = `${resolved.absPath}.${randomBytes(4).toString('hex')}.syncplay-tmp`;
    try {
      mkdirSync(dirname(resolved.absPath), { recursive: true });
      copyFileSync(from, tmp);
      renameSync(tmp, resolved.absPath);
      this.opts.log.info(`--sync-music: copied "${track.path}" into the music dir`);
    } catch (e) {
      rmSync(tmp, { force: true });
      this.opts.log.warn(`--sync-music: cannot copy "${track.path}" into the music dir: ${(e as Error).message}`);
    }
  }
}

/**
 * How many leading chunks of a partial download can be kept: the stored manifest must be the
 * leader's current one, and each chunk on disk is hashed again (a crash may have left one half
 * written). The part file is cut to what was verified.
 */
async function resumePoint(part: string, meta: string, manifest: Manifest): Promise<number> {
  try {
    const stored = manifestSchema.parse(JSON.parse(readFileSync(meta, 'utf8')));
    if (JSON.stringify(stored) !== JSON.stringify(manifest)) throw new Error('the leader has another version now');
    const handle = await open(part, 'r+');
    let good = 0;
    try {
      const size = (await handle.stat()).size;
      const buffer = Buffer.alloc(manifest.chunkSize);
      for (let i = 0; i < manifest.chunks.length; i++) {
        const { start, end } = chunkRange(manifest, i);
        if (end > size) break;
        const { bytesRead } = await handle.read(buffer, 0, end - start, start);
        if (bytesRead !== end - start || sha256Hex(buffer.subarray(0, bytesRead)) !== manifest.chunks[i]) break;
        good = i + 1;
      }
      await handle.truncate(Math.min(size, good * manifest.chunkSize));
    } finally {
      await handle.close();
    }
    return good;
  } catch {
    rmSync(part, { force: true });
    rmSync(meta, { force: true });
    return 0;
  }
}
