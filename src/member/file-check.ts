/**
 * Checks the leader's playlist against this device's music dir: each track must resolve inside
 * the music dir, exist, and have the same content hash as the leader's copy. A track that fails
 * is never played (silence beats the wrong song); its status is reported to the leader.
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
  private generation = 0;

  constructor(private readonly musicDir: string, private readonly log: Logger) {}

  /** Starts checking a new playlist; resolves when every track has a verdict. */
  async check(tracks: readonly Track[]): Promise<void> {
    const generation = ++this.generation;
    this.results = tracks.map(() => ({ status: 'checking' as FileStatus, absPath: null, detail: '' }));
    for (let i = 0; i < tracks.length; i++) {
      const verdict = await this.checkOne(tracks[i]!);
      if (generation !== this.generation) return;
      this.results[i] = verdict;
      if (verdict.status !== 'ok') this.log.warn(`track ${i + 1} "${tracks[i]!.path}": ${verdict.status}: ${verdict.detail}`);
    }
  }

  file(index: number): TrackFile | null {
    return this.results[index] ?? null;
  }

  /** The worst status across the playlist, and the tracks that are not ok. */
  summary(): { status: FileStatus; problems: { index: number; status: FileStatus }[] } {
    const problems = this.results.map((r, index) => ({ index, status: r.status })).filter((p) => p.status !== 'ok');
    const rank: FileStatus[] = ['refused', 'different', 'missing', 'checking', 'unknown', 'ok'];
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
