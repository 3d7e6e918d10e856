import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_LINE_BYTES, PAGING, PageSender, PlaylistPages, leaderToMember, parseLine, playlistDigest, type PageSink, type Track } from '../../src/protocol/index.js';
import type { SenderPacing } from '../../src/protocol/playlist-pages.js';

const hash = (i: number): string => i.toString(16).padStart(64, '0');
function tracks(n: number, title = (i: number) => `Song ${i} — «Ünïcode» it's`): Track[] {
  return Array.from({ length: n }, (_, i) => ({ path: `Artist ${i % 97}/Album ${i % 13}/${i} ${title(i)}.flac`, hash: hash(i), durationSec: 120 + (i % 300), title: title(i), artist: `Artist ${i % 97}` }));
}

/** Parses every page line of `pages` as a member would and returns the tracks by index. */
function receive(pages: PlaylistPages, blocks: number[]): Map<number, Track> {
  const got = new Map<number, Track>();
  let repeats = 0;
  for (const b of blocks) {
    for (const line of pages.lines(b)) {
      expect(Buffer.byteLength(line)).toBeLessThan(MAX_LINE_BYTES);
      const parsed = parseLine(leaderToMember, line.trimEnd());
      if (!parsed.ok) throw new Error(parsed.error);
      const m = parsed.message;
      if (m.type !== 'playlist-page') throw new Error(`unexpected ${m.type}`);
      expect(m.version).toBe(pages.info.version);
      m.tracks.forEach((t, k) => {
        if (got.has(m.start + k)) repeats++;
        got.set(m.start + k, t);
      });
    }
  }
  expect(repeats).toBe(0);
  return got;
}

describe('PlaylistPages', () => {
  it('carries 100,000 tracks in valid lines under the line limit, each track once, in order', () => {
    const list = tracks(100_000);
    const pages = new PlaylistPages(3, list);
    expect(pages.info).toEqual({ version: 3, count: 100_000, digest: playlistDigest(list) });
    const got = receive(pages, pages.order(0));
    expect(got.size).toBe(100_000);
    for (const i of [0, 1, 199, 200, 54_321, 99_999]) expect(got.get(i)).toEqual(list[i]);
  });

  it('sends the block holding the current track first, then the following ones, wrapping', () => {
    const pages = new PlaylistPages(1, tracks(1000));
    const order = pages.order(650);
    expect(order[0]).toBe(Math.floor(650 / PAGING.BLOCK_TRACKS));
    expect(order).toEqual([3, 4, 0, 1, 2]);
    expect(new PlaylistPages(1, []).order(0)).toEqual([]);
  });

  it('splits a block whose tags are huge into several pages, each under the budget', () => {
    const long = (i: number): string => `${'ä\u0001'.repeat(500)} ${i}`; // 3 bytes and a 6-byte escape per pair
    const list = tracks(PAGING.BLOCK_TRACKS, long);
    const pages = new PlaylistPages(1, list);
    const lines = pages.lines(0);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(PAGING.PAGE_BUDGET_BYTES);
    expect(receive(pages, [0]).size).toBe(PAGING.BLOCK_TRACKS);
  });

  it('digests differ when any track differs', () => {
    const a = tracks(10);
    const b = tracks(10);
    expect(playlistDigest(a)).toBe(playlistDigest(b));
    b[7] = { ...b[7]!, hash: hash(1234) };
    expect(playlistDigest(a)).not.toBe(playlistDigest(b));
  });
});

/** A socket's write queue, drained by the test. */
class QueueSink extends EventEmitter implements PageSink {
  writableLength = 0;
  destroyed = false;
  readonly written: string[] = [];
  maxQueued = 0;
  write(line: string): boolean {
    this.written.push(line);
    this.writableLength += Buffer.byteLength(line);
    this.maxQueued = Math.max(this.maxQueued, this.writableLength);
    return this.writableLength < PAGING.SEND_QUEUE_BYTES;
  }
  drain(): void {
    this.writableLength = 0;
    this.emit('drain');
  }
}

/** Pacing for the tests: 200 kB/s in 100 ms ticks (5,000 tracks, ~1.2 MB, take a few seconds). */
const PACING: SenderPacing = { FIRST_BLOCKS: 2, HOLD_MS: 3000, PACE_BYTES_PER_SEC: 200_000, PACE_TICK_MS: 100, SEND_QUEUE_BYTES: PAGING.SEND_QUEUE_BYTES };
const startsOf = (lines: string[]): number[] => lines.map((l) => JSON.parse(l).start as number);
const bytesOf = (lines: string[]): number => lines.reduce((n, l) => n + Buffer.byteLength(l), 0);

describe('PageSender', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the current block and the next at once and holds the rest until released', async () => {
    const pages = new PlaylistPages(1, tracks(5000));
    const sink = new QueueSink();
    let done = false;
    const sender = new PageSender(pages, sink, 4100, () => (done = true), PACING);
    sender.start();
    expect(startsOf(sink.written)).toEqual([4000, 4200]);
    sink.drain();
    await vi.advanceTimersByTimeAsync(2000);
    sink.drain();
    expect(sink.written).toHaveLength(2);
    sender.release();
    // Paced: a tick's allowance at a time (at most one block over it), every block once, wrapping.
    let ticks = 0;
    let before = sink.written.length;
    const perTick: number[] = [];
    while (!done && ticks++ < 1000) {
      perTick.push(bytesOf(sink.written.slice(before)));
      before = sink.written.length;
      sink.drain();
      await vi.advanceTimersByTimeAsync(PACING.PACE_TICK_MS);
    }
    expect(done).toBe(true);
    const largestBlock = Math.max(...pages.order(0).map((b) => bytesOf(pages.lines(b))));
    for (const b of perTick) expect(b).toBeLessThanOrEqual((PACING.PACE_BYTES_PER_SEC * PACING.PACE_TICK_MS) / 1000 + largestBlock);
    // 1.2 MB at 200 kB/s: several seconds, not all at once.
    const pacedTicks = ((bytesOf(sink.written) - bytesOf(sink.written.slice(0, 2))) / PACING.PACE_BYTES_PER_SEC) * (1000 / PACING.PACE_TICK_MS);
    expect(ticks).toBeGreaterThan(pacedTicks * 0.8);
    expect(ticks).toBeLessThan(pacedTicks * 1.2 + 2);
    expect(startsOf(sink.written)).toEqual([...Array.from({ length: 5 }, (_, i) => 4000 + i * 200), ...Array.from({ length: 20 }, (_, i) => i * 200)]);
    expect(sender.sentBytes).toBe(bytesOf(sink.written));
  });

  it('releases the rest by itself after the hold', async () => {
    const pages = new PlaylistPages(1, tracks(2000));
    const sink = new QueueSink();
    let done = false;
    const sender = new PageSender(pages, sink, 0, () => (done = true), PACING);
    sender.start();
    expect(sink.written).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(PACING.HOLD_MS - 100);
    expect(sink.written).toHaveLength(2);
    for (let i = 0; i < 100 && !done; i++) {
      sink.drain();
      await vi.advanceTimersByTimeAsync(PACING.PACE_TICK_MS);
    }
    expect(done).toBe(true);
    expect(startsOf(sink.written)).toEqual(Array.from({ length: 10 }, (_, i) => i * 200));
  });

  it('never tops the write queue beyond its bound (a member that does not read)', async () => {
    const pages = new PlaylistPages(1, tracks(5000));
    const sink = new QueueSink();
    const fast: SenderPacing = { ...PACING, PACE_BYTES_PER_SEC: 100_000_000 };
    const sender = new PageSender(pages, sink, 0, undefined, fast);
    sender.start();
    sender.release();
    await vi.advanceTimersByTimeAsync(5000);
    const largestBlock = Math.max(...pages.order(0).map((b) => bytesOf(pages.lines(b))));
    expect(sink.maxQueued).toBeLessThan(PAGING.SEND_QUEUE_BYTES + largestBlock);
    expect(sender.done).toBe(false);
    // Reading again lets it go on.
    const sent = sink.written.length;
    sink.drain();
    expect(sink.written.length).toBeGreaterThan(sent);
  });

  it('a small playlist goes out at once', () => {
    const pages = new PlaylistPages(1, tracks(300));
    const sink = new QueueSink();
    let done = false;
    new PageSender(pages, sink, 0, () => (done = true), PACING).start();
    expect(done).toBe(true);
    expect(startsOf(sink.written)).toEqual([0, 200]);
  });

  it('writes nothing more once cancelled', async () => {
    const pages = new PlaylistPages(1, tracks(5000));
    const sink = new QueueSink();
    const sender = new PageSender(pages, sink, 0, undefined, PACING);
    sender.start();
    const before = sink.written.length;
    sender.cancel();
    sender.release();
    sink.drain();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sink.written.length).toBe(before);
    expect(sender.done).toBe(false);
  });
});
