/**
 * A playlist cut into pages for the wire (the leader's side; members assemble them with
 * PlaylistCopy).
 *
 * Why pages: one message per playlist made the welcome line ~217 bytes a track, over the line
 * limit (MAX_LINE_BYTES) from ~1,200 tracks on. Raising the limit would let any peer make us
 * buffer megabytes; fetching the playlist by content hash would need a second transfer path.
 * Pages keep the one JSON-lines connection and its limit: each `playlist-page` line holds the
 * tracks of one block of BLOCK_TRACKS consecutive indices, split further if its JSON exceeds
 * PAGE_BUDGET_BYTES (a track is at most ~40 KB even with the longest path and tags the schema
 * allows, so every page fits). A page names its playlist version and first index, so pages can
 * travel in any order: the block holding the current track goes first, then the following ones,
 * wrapping around. Lines are serialised once per playlist and shared by every member; the
 * sender writes them only while the socket's queue is short, so a slow member costs the leader
 * at most one queue, and time exchanges never wait behind megabytes of playlist.
 */
import { playlistDigest } from '../playlist/playlist-digest.js';
import type { PlaylistInfo, Track } from './messages.js';

/** Tunables of the paging. */
export const PAGING = {
  /** tracks per block: ~45 KB of JSON for typical tags, a fraction of the line limit */
  BLOCK_TRACKS: 200,
  /** a block whose JSON is longer than this is sent as several pages (well under MAX_LINE_BYTES) */
  PAGE_BUDGET_BYTES: 96 * 1024,
  /** the sender tops the socket's write queue up to this; time replies wait behind at most this much */
  SEND_QUEUE_BYTES: 64 * 1024,
} as const;

/** The digest that identifies a playlist's content (equal digests, equal tracks in the same order). */
export { playlistDigest };

export class PlaylistPages {
  readonly info: PlaylistInfo;
  private readonly blocks: (string[] | undefined)[];

  constructor(version: number, readonly tracks: readonly Track[]) {
    this.info = { version, count: tracks.length, digest: playlistDigest(tracks) };
    this.blocks = new Array<string[] | undefined>(this.blockCount);
  }

  get blockCount(): number {
    return Math.ceil(this.tracks.length / PAGING.BLOCK_TRACKS);
  }

  blockOf(trackIndex: number): number {
    return Math.max(0, Math.min(this.blockCount - 1, Math.floor(trackIndex / PAGING.BLOCK_TRACKS)));
  }

  /** Blocks in sending order: the one holding `trackIndex` first, then onwards, wrapping around. */
  order(trackIndex: number): number[] {
    const n = this.blockCount;
    const first = this.blockOf(trackIndex);
    return Array.from({ length: n }, (_, i) => (first + i) % n);
  }

  /** The serialised `playlist-page` lines (with newlines) of block `b`, built on first use. */
  lines(b: number): string[] {
    const cached = this.blocks[b];
    if (cached) return cached;
    const start = b * PAGING.BLOCK_TRACKS;
    const built = this.pageLines(start, this.tracks.slice(start, start + PAGING.BLOCK_TRACKS));
    this.blocks[b] = built;
    return built;
  }

  private pageLines(start: number, tracks: readonly Track[]): string[] {
    const line = JSON.stringify({ type: 'playlist-page', version: this.info.version, start, tracks }) + '\n';
    if (tracks.length === 1 || Buffer.byteLength(line) <= PAGING.PAGE_BUDGET_BYTES) return [line];
    const half = Math.ceil(tracks.length / 2);
    return [...this.pageLines(start, tracks.slice(0, half)), ...this.pageLines(start + half, tracks.slice(half))];
  }
}

/** Where a sender writes: a socket's write queue (net.Socket fits). */
export interface PageSink {
  readonly writableLength: number;
  readonly destroyed: boolean;
  write(line: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/**
 * Sends one playlist's pages to one member, keeping the socket's queue short (see the header).
 * `cancel()` stops it; a new playlist gets a new sender.
 */
export class PageSender {
  private readonly queue: number[];
  private cancelled = false;
  private readonly onDrain = (): void => this.pump();
  sentBytes = 0;

  constructor(private readonly pages: PlaylistPages, private readonly sink: PageSink, fromTrack: number, private readonly onDone?: () => void) {
    this.queue = pages.order(fromTrack);
  }

  get done(): boolean {
    return this.queue.length === 0;
  }

  start(): void {
    this.pump();
  }

  cancel(): void {
    this.cancelled = true;
    this.sink.off('drain', this.onDrain);
  }

  private pump(): void {
    if (this.cancelled || this.sink.destroyed) return;
    while (this.queue.length > 0 && this.sink.writableLength < PAGING.SEND_QUEUE_BYTES) {
      for (const line of this.pages.lines(this.queue.shift()!)) {
        this.sink.write(line);
        this.sentBytes += Buffer.byteLength(line);
      }
    }
    if (this.queue.length > 0) this.sink.once('drain', this.onDrain);
    else this.onDone?.();
  }
}
