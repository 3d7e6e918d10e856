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
 * wrapping around. Lines are serialised once per playlist and shared by every member.
 *
 * Pacing: time replies travel on the same connection, behind whatever pages are ahead of them —
 * not only in the leader's own write queue but in the kernel's socket buffers on both ends
 * (megabytes on loopback or a LAN, invisible to the leader), and the member must parse every page
 * ahead of a reply before it sees it. Sent as fast as the socket took them, the 23 MB of a
 * 100,000-track playlist held a joining member's clock exchange back by seconds. So the sender
 * sends the current track's block and the next one at once (all a member needs to start and
 * queue the next track), holds the rest until the member says it plays (`release()`) or
 * HOLD_MS have passed, and then sends at most PACE_BYTES_PER_SEC, and only while the socket's
 * own queue is short: what sits ahead of a time reply stays a fraction of a second of parsing.
 */
import { playlistDigest } from '../playlist/playlist-digest.js';
import type { PlaylistInfo, Track } from './messages.js';

/** Tunables of the paging. */
export const PAGING = {
  /** tracks per block: ~45 KB of JSON for typical tags, a fraction of the line limit */
  BLOCK_TRACKS: 200,
  /** a block whose JSON is longer than this is sent as several pages (well under MAX_LINE_BYTES) */
  PAGE_BUDGET_BYTES: 96 * 1024,
  /** the sender tops the socket's write queue up to this (the leader's own share of what is ahead of a time reply) */
  SEND_QUEUE_BYTES: 64 * 1024,
  /** blocks sent at once: the current track's and the next one (a member starts with these) */
  FIRST_BLOCKS: 2,
  /** the rest waits until the member plays, or this long (a member that will not play soon) */
  HOLD_MS: 3000,
  /**
   * then at most this many bytes a second: 100,000 tracks (23 MB) in ~12 s, 10,000 in ~1 s; a
   * member parses it in a fraction of its CPU (~40 ms a MB here, a few times that on a Pi)
   */
  PACE_BYTES_PER_SEC: 2 * 1024 * 1024,
  /** the paced sending wakes up this often */
  PACE_TICK_MS: 100,
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

/** The sender's share of PAGING (a test may pace differently). */
export type SenderPacing = { readonly [K in 'FIRST_BLOCKS' | 'HOLD_MS' | 'PACE_BYTES_PER_SEC' | 'PACE_TICK_MS' | 'SEND_QUEUE_BYTES']: number };

/**
 * Sends one playlist's pages to one member: the first blocks at once, the rest once released (or
 * after the hold), paced, and only while the socket's queue is short (see the header).
 * `cancel()` stops it; a new playlist gets a new sender.
 */
export class PageSender {
  private readonly queue: number[];
  private cancelled = false;
  private readonly onDrain = (): void => this.pump();
  /** blocks that may still go out before release() (or the hold's end) */
  private unheld: number;
  private released = false;
  private holdTimer: NodeJS.Timeout | null = null;
  private paceTimer: NodeJS.Timeout | null = null;
  /** bytes the pacing still allows in this tick (negative: a block went over, paid back later) */
  private allowance = 0;
  private finished = false;
  sentBytes = 0;

  constructor(
    private readonly pages: PlaylistPages,
    private readonly sink: PageSink,
    fromTrack: number,
    private readonly onDone?: () => void,
    private readonly paging: SenderPacing = PAGING,
  ) {
    this.queue = pages.order(fromTrack);
    this.unheld = paging.FIRST_BLOCKS;
  }

  get done(): boolean {
    return this.queue.length === 0;
  }

  start(): void {
    this.pump();
    if (this.queue.length > 0 && !this.released) {
      this.holdTimer = setTimeout(() => this.release(), this.paging.HOLD_MS);
      this.holdTimer.unref?.();
    }
  }

  /** The member plays (or waited long enough): the rest of the pages follow, paced. */
  release(): void {
    if (this.released || this.cancelled) return;
    this.released = true;
    this.stopTimers();
    this.tick();
  }

  cancel(): void {
    this.cancelled = true;
    this.stopTimers();
    this.sink.off('drain', this.onDrain);
  }

  private stopTimers(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.holdTimer = this.paceTimer = null;
  }

  /** A new pacing slice: this tick's allowance, then the next tick while pages are left. */
  private tick(): void {
    this.paceTimer = null;
    // A block sent over the allowance is paid back from the next ticks' (the rate holds on average).
    const perTick = (this.paging.PACE_BYTES_PER_SEC * this.paging.PACE_TICK_MS) / 1000;
    this.allowance = Math.min(perTick, this.allowance + perTick);
    this.pump();
    if (!this.cancelled && this.queue.length > 0 && !this.sink.destroyed) {
      this.paceTimer = setTimeout(() => this.tick(), this.paging.PACE_TICK_MS);
      this.paceTimer.unref?.();
    }
  }

  private pump(): void {
    if (this.cancelled || this.sink.destroyed) return;
    this.sink.off('drain', this.onDrain);
    while (this.queue.length > 0 && this.sink.writableLength < this.paging.SEND_QUEUE_BYTES) {
      if (!this.released && this.unheld <= 0) return;
      if (this.released && this.allowance <= 0) return;
      this.unheld--;
      for (const line of this.pages.lines(this.queue.shift()!)) {
        this.sink.write(line);
        const bytes = Buffer.byteLength(line);
        this.sentBytes += bytes;
        if (this.released) this.allowance -= bytes;
      }
    }
    if (this.queue.length > 0) this.sink.once('drain', this.onDrain);
    else if (!this.finished) {
      this.finished = true;
      this.stopTimers();
      this.onDone?.();
    }
  }
}
