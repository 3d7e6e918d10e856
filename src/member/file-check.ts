/**
 * Checks the leader's playlist against this device's music dir: each track must resolve inside
 * the music dir, exist, and have the same content hash as the leader's copy. A track that fails
 * is never played (silence beats the wrong song); its status is reported to the leader.
 * A file fetched from the leader into the cache is supplied afterwards (supply()).
 *
 * Order: the tracks the timeline needs (prioritize(): the current one and the next ones) go
 * first, then the rest in the order their pages arrived — which is itself current-first — so a
 * member plays as soon as the current track is verified while the rest is checked in the
 * background, CONCURRENCY files at a time. Unchanged files are answered by the scan cache.
 * The player gets a track through file(), which opens it and checks what was opened
 * (open-inside.ts): the check that counts is made at open time, not at check time.
 */
import { closeSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { openInside } from './open-inside.js';
import type { Logger } from '../log/logger.js';
import { fileInfo } from '../playlist/file-info.js';
import { Progress, type ProgressView } from '../playlist/progress.js';
import { RealPathCache, resolveInside } from '../playlist/safe-path.js';
import type { ScanCache } from '../playlist/scan-cache.js';
import type { FileStatus, Track } from '../protocol/index.js';

export interface TrackFile {
  status: FileStatus;
  absPath: string | null;
  detail: string;
}

/** Tunables of the check. */
export const FILE_CHECK = {
  /** files checked at once: a warm check is a stat and a cache lookup, a cold one reads the file */
  CONCURRENCY: 4,
  /** problem tracks logged one by one; beyond that only counted */
  LOGGED_PROBLEMS: 10,
  /** problem tracks listed in the status sent to the leader */
  REPORTED_PROBLEMS: 1000,
  /** how often the cache is saved while checking */
  SAVE_EVERY_MS: 10_000,
  /** open tracks kept for the player (the one playing, the next, and a few it may return to) */
  OPEN_FILES_KEPT: 6,
} as const;

const CHECKING: TrackFile = { status: 'checking', absPath: null, detail: 'not checked yet' };
const RANK: FileStatus[] = ['refused', 'different', 'missing', 'fetching', 'checking', 'unknown', 'ok'];

export class FileCheck {
  private tracks: readonly (Track | undefined)[] = [];
  private results: (TrackFile | undefined)[] = [];
  private readonly inFlight = new Set<number>();
  private readonly problems = new Map<number, FileStatus>();
  /** tracks being fetched: their status before ('missing' or 'different') */
  private readonly fetching = new Map<number, FileStatus>();
  /** tracks opened for the player, newest last: index → descriptor and the path the player uses */
  private readonly opened = new Map<number, { fd: number | null; playPath: string; source: string }>();
  private newestOpened: number | null = null;
  private priority: number[] = [];
  /** ranges of tracks that arrived and wait for their check, in arrival order */
  private readonly arrived: { next: number; end: number }[] = [];
  private generation = 0;
  private checkedCount = 0;
  private loggedProblems = 0;
  private savedAt = Date.now();
  private progress = new Progress('checking');
  /** folders' real paths, for this playlist's pass */
  private realPaths = new RealPathCache();
  /** called when a track's verdict is in (the player may be waiting for it) */
  onVerdict: ((index: number, file: TrackFile) => void) | null = null;

  constructor(
    private readonly musicDir: string,
    private readonly log: Logger,
    private readonly cache: ScanCache | null = null,
  ) {}

  /**
   * Starts over with a new playlist: `tracks` may have holes (tracks not received yet); call
   * arrived() as they fill in. The array is read, not copied.
   */
  setPlaylist(tracks: readonly (Track | undefined)[]): void {
    this.generation++;
    this.tracks = tracks;
    this.results = new Array<TrackFile | undefined>(tracks.length);
    this.inFlight.clear();
    this.problems.clear();
    this.fetching.clear();
    this.closeOpened();
    this.priority = [];
    this.arrived.length = 0;
    this.checkedCount = 0;
    this.loggedProblems = 0;
    this.progress = new Progress('checking');
    this.progress.total = tracks.length;
    this.realPaths = new RealPathCache();
    this.arrived.push({ next: 0, end: tracks.length });
    this.pump();
  }

  /** Tracks start … start + count − 1 have arrived: queue their check. */
  tracksArrived(start: number, count: number): void {
    this.arrived.push({ next: start, end: Math.min(this.tracks.length, start + count) });
    this.pump();
  }

  /** Checks these tracks before any other (the current and the next ones). */
  prioritize(indices: number[]): void {
    this.priority = [...indices.filter((i) => i >= 0 && i < this.tracks.length), ...this.priority].slice(0, 16);
    this.pump();
  }

  /** Checks a whole playlist and resolves when every track has a verdict. */
  async check(tracks: readonly Track[]): Promise<void> {
    this.setPlaylist(tracks);
    await this.idle();
    await this.cache?.save();
  }

  /** Resolves when nothing is left to check. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.nextIndex(false) !== null) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * The track for the player: when playable, opened and checked now, with `absPath` naming the
   * opened file. A file that no longer passes (swapped for a link, gone) is refused from then on.
   * 'checking' while its verdict is not in; null when the track itself has not arrived.
   */
  file(index: number): TrackFile | null {
    const r = this.results[index];
    if (!r) return this.tracks[index] ? CHECKING : null;
    if (r.status !== 'ok' || !r.absPath) return r;
    const held = this.opened.get(index);
    if (held && held.source === r.absPath) {
      // Most recently used moves last; the sync asks for the playing track 10 times a second,
      // which is usually last already (re-inserting would reallocate the Map's table each time).
      if (this.newestOpened !== index) {
        this.opened.delete(index);
        this.opened.set(index, held);
        this.newestOpened = index;
      }
      return { ...r, absPath: held.playPath };
    }
    // Files fetched into the cache are checked against the cache folder they were written to.
    const inMusicDir = !relative(this.musicDir, r.absPath).startsWith('..');
    const root = inMusicDir ? this.musicDir : dirname(r.absPath);
    const o = openInside(root, r.absPath);
    if (!o.ok) {
      this.results[index] = { status: 'refused', absPath: null, detail: o.reason };
      this.problems.set(index, 'refused');
      this.log.warn(`track ${index + 1}: refused at open: ${o.reason}`);
      return this.results[index]!;
    }
    if (held?.fd != null) closeSync(held.fd);
    this.opened.delete(index);
    this.opened.set(index, { fd: o.fd, playPath: o.playPath, source: r.absPath });
    this.newestOpened = index;
    while (this.opened.size > FILE_CHECK.OPEN_FILES_KEPT) {
      const [oldest, entry] = this.opened.entries().next().value!;
      this.opened.delete(oldest);
      if (entry.fd !== null) closeSync(entry.fd);
    }
    return { ...r, absPath: o.playPath };
  }

  private closeOpened(): void {
    for (const e of this.opened.values()) if (e.fd !== null) closeSync(e.fd);
    this.opened.clear();
    this.newestOpened = null;
  }

  /** The verdict on track `index` without opening anything (file() opens it for the player). */
  statusOf(index: number): FileStatus | null {
    return this.results[index]?.status ?? (this.tracks[index] ? 'checking' : null);
  }

  /** The playlist being checked (holes: tracks not received yet). */
  get playlist(): readonly (Track | undefined)[] {
    return this.tracks;
  }

  /** Makes every checked track with content `hash` playable from `absPath` (a verified copy); returns their indices. */
  supply(hash: string, absPath: string, detail = 'fetched from the leader'): number[] {
    const changed: number[] = [];
    this.tracks.forEach((t, i) => {
      const r = this.results[i];
      if (t?.hash !== hash || !r || r.status === 'ok' || r.status === 'refused') return;
      this.results[i] = { status: 'ok', absPath, detail };
      this.fetching.delete(i);
      this.problems.delete(i);
      changed.push(i);
    });
    return changed;
  }

  /** Shows the tracks with content `hash` as being fetched (or, `on` false, as they were). */
  setFetching(hash: string, on: boolean): void {
    this.tracks.forEach((t, i) => {
      const r = this.results[i];
      if (t?.hash !== hash || !r) return;
      if (on && (r.status === 'missing' || r.status === 'different')) {
        this.fetching.set(i, r.status);
        this.results[i] = { ...r, status: 'fetching' };
        this.problems.set(i, 'fetching');
      } else if (!on && r.status === 'fetching') {
        const before = this.fetching.get(i) ?? 'missing';
        this.results[i] = { ...r, status: before };
        this.problems.set(i, before);
        this.fetching.delete(i);
      }
    });
  }

  get checked(): number {
    return this.checkedCount;
  }

  get total(): number {
    return this.tracks.length;
  }

  progressView(): ProgressView {
    return this.progress.view();
  }

  /**
   * The worst status across the playlist, and the tracks that are not playable here, in playlist
   * order (verdicts arrive in any order: checks run side by side).
   */
  summary(): { status: FileStatus; problems: { index: number; status: FileStatus }[] } {
    let status: FileStatus = this.tracks.length === 0 ? 'unknown' : this.checkedCount < this.tracks.length ? 'checking' : 'ok';
    const problems: { index: number; status: FileStatus }[] = [];
    for (const [index, s] of this.problems) {
      if (RANK.indexOf(s) < RANK.indexOf(status)) status = s;
      if (problems.length < FILE_CHECK.REPORTED_PROBLEMS) problems.push({ index, status: s });
    }
    problems.sort((a, b) => a.index - b.index);
    return { status, problems };
  }

  /** The next track to check: priority first, then arrival order; null when none is ready. */
  private nextIndex(take = true): number | null {
    while (this.priority.length > 0) {
      const i = this.priority[0]!;
      if (this.ready(i)) {
        if (take) this.priority.shift();
        return i;
      }
      this.priority.shift();
    }
    while (this.arrived.length > 0) {
      const range = this.arrived[0]!;
      while (range.next < range.end && !this.ready(range.next)) range.next++;
      if (range.next < range.end) return take ? range.next++ : range.next;
      this.arrived.shift();
    }
    return null;
  }

  private ready(i: number): boolean {
    return this.tracks[i] !== undefined && this.results[i] === undefined && !this.inFlight.has(i);
  }

  private pump(): void {
    while (this.inFlight.size < FILE_CHECK.CONCURRENCY) {
      const i = this.nextIndex();
      if (i === null) break;
      const generation = this.generation;
      const track = this.tracks[i]!;
      this.inFlight.add(i);
      void this.checkOne(track).then((verdict) => {
        if (generation !== this.generation) return;
        this.inFlight.delete(i);
        this.record(i, track, verdict);
        this.pump();
      });
    }
  }

  private record(i: number, track: Track, verdict: TrackFile & { fromCache?: boolean }): void {
    this.results[i] = { status: verdict.status, absPath: verdict.absPath, detail: verdict.detail };
    this.checkedCount++;
    this.progress.step(verdict.fromCache === true);
    if (verdict.status !== 'ok') {
      this.problems.set(i, verdict.status);
      if (this.loggedProblems++ < FILE_CHECK.LOGGED_PROBLEMS) this.log.warn(`track ${i + 1} "${track.path}": ${verdict.status}: ${verdict.detail}`);
    }
    if (this.cache && (this.checkedCount === this.tracks.length || Date.now() - this.savedAt > FILE_CHECK.SAVE_EVERY_MS)) {
      this.savedAt = Date.now();
      void this.cache.save();
    }
    if (this.checkedCount === this.tracks.length) {
      this.progress.finish();
      const bad = this.problems.size;
      this.log.info(`checked ${this.tracks.length} tracks in ${this.progress.view().elapsedSec.toFixed(1)} s: ${bad === 0 ? 'all present and identical' : `${bad} not playable here`}`);
    }
    this.onVerdict?.(i, this.results[i]!);
  }

  private async checkOne(track: Track): Promise<TrackFile & { fromCache?: boolean }> {
    const resolved = resolveInside(this.musicDir, track.path, this.realPaths);
    if (!resolved.ok) return { status: 'refused', absPath: null, detail: resolved.reason };
    let info;
    try {
      info = await fileInfo(resolved.absPath, { cache: this.cache, meta: false });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { status: 'missing', absPath: null, detail: `not found at ${resolved.absPath}` };
      return { status: 'missing', absPath: null, detail: `cannot read ${resolved.absPath}: ${(e as Error).message}` };
    }
    if (info.hash !== track.hash) {
      return { status: 'different', absPath: null, detail: `content differs from the leader's copy (hash ${info.hash.slice(0, 12)} vs ${track.hash.slice(0, 12)})`, fromCache: info.fromCache };
    }
    return { status: 'ok', absPath: resolved.absPath, detail: '', fromCache: info.fromCache };
  }
}
