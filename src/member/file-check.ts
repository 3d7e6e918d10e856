/**
 * Checks the leader's playlist against this device's music dir: each track must resolve inside
 * the music dir, exist, and have the same content hash as the leader's copy. A track that fails
 * is never played (silence beats the wrong song); its status is reported to the leader.
 * A file fetched from the leader into the cache is supplied afterwards (supply()).
 * The player gets a track through file(), which opens it and checks what was opened
 * (open-inside.ts): the check that counts is made at open time, not at check time.
 */
import { closeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { openInside } from './open-inside.js';
import type { Logger } from '../log/logger.js';
import { hashFile } from '../playlist/content-hash.js';
import { resolveInside } from '../playlist/safe-path.js';
import type { FileStatus, Track } from '../protocol/index.js';

export interface TrackFile {
  status: FileStatus;
  absPath: string | null;
  detail: string;
}

/** Open tracks kept for the player (the one playing, the next, and a few it may return to). */
const OPEN_FILES_KEPT = 6;

export class FileCheck {
  private results: TrackFile[] = [];
  private tracks: readonly Track[] = [];
  private generation = 0;
  /** tracks being fetched: their status before ('missing' or 'different') */
  private readonly fetching = new Map<number, FileStatus>();
  /** tracks opened for the player, newest last: index → descriptor and the path the player uses */
  private readonly opened = new Map<number, { fd: number | null; playPath: string; source: string }>();

  constructor(private readonly musicDir: string, private readonly log: Logger) {}

  /** Starts checking a new playlist; resolves when every track has a verdict. */
  async check(tracks: readonly Track[]): Promise<void> {
    const generation = ++this.generation;
    this.tracks = tracks;
    this.fetching.clear();
    this.closeOpened();
    this.results = tracks.map(() => ({ status: 'checking' as FileStatus, absPath: null, detail: '' }));
    for (let i = 0; i < tracks.length; i++) {
      const verdict = await this.checkOne(tracks[i]!);
      if (generation !== this.generation) return;
      if (this.results[i]?.status === 'ok') continue; // supplied from the cache meanwhile
      this.results[i] = verdict;
      if (verdict.status !== 'ok') this.log.warn(`track ${i + 1} "${tracks[i]!.path}": ${verdict.status}: ${verdict.detail}`);
    }
  }

  /**
   * The track for the player: when playable, opened and checked now, with `absPath` naming the
   * opened file. A file that no longer passes (swapped for a link, gone) is refused from then on.
   */
  file(index: number): TrackFile | null {
    const r = this.results[index];
    if (!r || r.status !== 'ok' || !r.absPath) return r ?? null;
    const held = this.opened.get(index);
    if (held && held.source === r.absPath) {
      this.opened.delete(index);
      this.opened.set(index, held);
      return { ...r, absPath: held.playPath };
    }
    // Files fetched into the cache are checked against the cache folder they were written to.
    const inMusicDir = !relative(this.musicDir, r.absPath).startsWith('..');
    const root = inMusicDir ? this.musicDir : dirname(r.absPath);
    const o = openInside(root, r.absPath);
    if (!o.ok) {
      this.results[index] = { status: 'refused', absPath: null, detail: o.reason };
      this.log.warn(`track ${index + 1}: refused at open: ${o.reason}`);
      return this.results[index]!;
    }
    if (held?.fd != null) closeSync(held.fd);
    this.opened.set(index, { fd: o.fd, playPath: o.playPath, source: r.absPath });
    while (this.opened.size > OPEN_FILES_KEPT) {
      const [oldest, entry] = this.opened.entries().next().value!;
      this.opened.delete(oldest);
      if (entry.fd !== null) closeSync(entry.fd);
    }
    return { ...r, absPath: o.playPath };
  }

  private closeOpened(): void {
    for (const e of this.opened.values()) if (e.fd !== null) closeSync(e.fd);
    this.opened.clear();
  }

  /** The verdict on track `index` without opening anything (file() opens it for the player). */
  statusOf(index: number): FileStatus | null {
    return this.results[index]?.status ?? null;
  }

  get playlist(): readonly Track[] {
    return this.tracks;
  }

  /** Makes every track with content `hash` playable from `absPath` (a verified copy); returns their indices. */
  supply(hash: string, absPath: string, detail = 'fetched from the leader'): number[] {
    const changed: number[] = [];
    this.tracks.forEach((t, i) => {
      const r = this.results[i];
      if (t.hash !== hash || !r || r.status === 'ok' || r.status === 'refused') return;
      this.results[i] = { status: 'ok', absPath, detail };
      this.fetching.delete(i);
      changed.push(i);
    });
    return changed;
  }

  /** Shows the tracks with content `hash` as being fetched (or, `on` false, as they were). */
  setFetching(hash: string, on: boolean): void {
    this.tracks.forEach((t, i) => {
      const r = this.results[i];
      if (t.hash !== hash || !r) return;
      if (on && (r.status === 'missing' || r.status === 'different')) {
        this.fetching.set(i, r.status);
        this.results[i] = { ...r, status: 'fetching' };
      } else if (!on && r.status === 'fetching') {
        this.results[i] = { ...r, status: this.fetching.get(i) ?? 'missing' };
        this.fetching.delete(i);
      }
    });
  }

  /** The worst status across the playlist, and the tracks that are not ok. */
  summary(): { status: FileStatus; problems: { index: number; status: FileStatus }[] } {
    const problems = this.results.map((r, index) => ({ index, status: r.status })).filter((p) => p.status !== 'ok');
    const rank: FileStatus[] = ['refused', 'different', 'missing', 'fetching', 'checking', 'unknown', 'ok'];
    let status: FileStatus = this.results.length === 0 ? 'unknown' : 'ok';
    for (const p of problems) if (rank.indexOf(p.status) < rank.indexOf(status)) status = p.status;
    return { status, problems: problems.slice(0, 1000) };
  }

  private async checkOne(track: Track): Promise<TrackFile> {
    const resolved = resolveInside(this.musicDir, track.path);
    if (!resolved.ok) return { status: 'refused', absPath: null, detail: resolved.reason };
    try {
      const s = await stat(resolved.absPath);
      if (!s.isFile()) return { status: 'missing', absPath: null, detail: `${resolved.absPath} is not a file` };
    } catch {
      return { status: 'missing', absPath: null, detail: `not found at ${resolved.absPath}` };
    }
    try {
      const hash = await hashFile(resolved.absPath);
      if (hash !== track.hash) {
        return { status: 'different', absPath: null, detail: `content differs from the leader's copy (hash ${hash.slice(0, 12)} vs ${track.hash.slice(0, 12)})` };
      }
    } catch (e) {
      return { status: 'missing', absPath: null, detail: `cannot read ${resolved.absPath}: ${(e as Error).message}` };
    }
    return { status: 'ok', absPath: resolved.absPath, detail: '' };
  }
}
