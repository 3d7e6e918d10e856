import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, PAGING, PageSender, PlaylistPages, leaderToMember, parseLine, playlistDigest, type PageSink, type Track } from '../../src/protocol/index.js';

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

describe('PageSender', () => {
  it('keeps the write queue short and finishes once drained', () => {
    const pages = new PlaylistPages(1, tracks(5000));
    const sink = new QueueSink();
    let done = false;
    const sender = new PageSender(pages, sink, 4100, () => (done = true));
    sender.start();
    // The first block written is the one holding track 4100.
    expect(JSON.parse(sink.written[0]!).start).toBe(4000);
    let rounds = 0;
    while (!done && rounds++ < 1000) sink.drain();
    expect(done).toBe(true);
    // At most one block beyond the queue bound is ever queued.
    const largestBlock = Math.max(...pages.order(0).map((b) => pages.lines(b).reduce((n, l) => n + Buffer.byteLength(l), 0)));
    expect(sink.maxQueued).toBeLessThan(PAGING.SEND_QUEUE_BYTES + largestBlock);
    const starts = sink.written.map((l) => JSON.parse(l).start as number).sort((a, b) => a - b);
    expect(starts).toEqual(Array.from({ length: 25 }, (_, i) => i * PAGING.BLOCK_TRACKS));
    expect(sender.sentBytes).toBe(sink.written.reduce((n, l) => n + Buffer.byteLength(l), 0));
  });

  it('writes nothing more once cancelled', () => {
    const pages = new PlaylistPages(1, tracks(5000));
    const sink = new QueueSink();
    const sender = new PageSender(pages, sink, 0);
    sender.start();
    const before = sink.written.length;
    sender.cancel();
    sink.drain();
    expect(sink.written.length).toBe(before);
    expect(sender.done).toBe(false);
  });
});
