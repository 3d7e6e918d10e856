/**
 * Checks the leader's playlist against this device's music dir: each track must resolve inside
 * the music dir, exist, and have the same content hash as the leader's copy. A track that fails
 * is never played (silence beats the wrong song); its status is reported to the leader.
 * A file fetched from the leader into the cache is supplied afterwards (supply()).
 */
import { stat } from 'node:fs/promises';
import type { Logger } from '../log/logger.js';
import { hashFile } from '../playlist/content-hash.js';
import { resolveInside } from '../playlist/safe-path.js';
import type { FileStatus, Track } from '../protocol/index.js';

export interface TrackFile {
  status: FileStatus;
  absPath: string | null;
  detail: string;
}

export class FileCheck {
  private results: TrackFile[] = [];
  private tracks: readonly Track[] = [];
  private generation = 0;
  /** tracks being fetched: their status before ('missing' or 'different') */
  private readonly fetching = new Map<number, FileStatus>();

  constructor(private readonly musicDir: string, private readonly log: Logger) {}

  /** Starts checking a new playlist; resolves when every track has a verdict. */
  async check(tracks: readonly Track[]): Promise<void> {
    const generation = ++this.generation;
    this.tracks = tracks;
    this.fetching.clear();
    this.results = tracks.map(() => ({ status: 'checking' as FileStatus, absPath: null, detail: '' }));
    for (let i = 0; i < tracks.length; i++) {
      const verdict = await this.checkOne(tracks[i]!);
      if (generation !== this.generation) return;
      if (this.results[i]?.status === 'ok') continue; // supplied from the cache meanwhile
      this.results[i] = verdict;
      if (verdict.status !== 'ok') this.log.warn(`track ${i + 1} "${tracks[i]!.path}": ${verdict.status}: ${verdict.detail}`);
    }
  }

  file(index: number): TrackFile | null {
    return this.results[index] ?? null;
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
