/**
 * The member's copy of the leader's playlist, assembled from pages (see playlist-pages.ts).
 * Tracks not yet received are holes: the member can play any track it holds (with its
 * neighbours for the auto-advance) before the rest arrives. A page for another version, past
 * the announced length, or overlapping no hole is ignored.
 */
import type { PlaylistInfo, PlaylistPageMessage, Track } from '../protocol/index.js';

export class PlaylistCopy {
  /** sparse: holes where a page has not arrived */
  readonly tracks: Track[];
  received = 0;

  constructor(public info: PlaylistInfo) {
    this.tracks = new Array<Track>(info.count);
  }

  /** Keeps these tracks under another version number (a restarted leader announced them anew). */
  renumber(version: number): void {
    this.info = { ...this.info, version };
  }

  get version(): number {
    return this.info.version;
  }

  get complete(): boolean {
    return this.received === this.info.count;
  }

  has(index: number): boolean {
    return this.tracks[index] !== undefined;
  }

  /** Stores a page; returns the indices it filled (empty when it was stale or a repeat). */
  apply(page: PlaylistPageMessage): { filled: number; error?: string } {
    if (page.version !== this.info.version) return { filled: 0 };
    if (page.start + page.tracks.length > this.info.count) {
      return { filled: 0, error: `page ${page.start}+${page.tracks.length} runs past the playlist's ${this.info.count} tracks` };
    }
    let filled = 0;
    for (let i = 0; i < page.tracks.length; i++) {
      if (this.tracks[page.start + i] === undefined) {
        this.tracks[page.start + i] = page.tracks[i]!;
        filled++;
      }
    }
    this.received += filled;
    return { filled };
  }
}
