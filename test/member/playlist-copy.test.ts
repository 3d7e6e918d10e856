import { describe, expect, it } from 'vitest';
import { PlaylistCopy } from '../../src/member/playlist-copy.js';
import type { Track } from '../../src/protocol/index.js';

const track = (i: number): Track => ({ path: `${i}.ogg`, hash: i.toString(16).padStart(64, '0'), durationSec: 10, title: `T${i}` });
const page = (version: number, start: number, n: number) => ({ type: 'playlist-page' as const, version, start, tracks: Array.from({ length: n }, (_, k) => track(start + k)) });

describe('PlaylistCopy', () => {
  it('assembles pages in any order and knows which tracks it holds', () => {
    const copy = new PlaylistCopy({ version: 2, count: 10, digest: 'f'.repeat(64) });
    expect(copy.apply(page(2, 6, 4))).toEqual({ filled: 4 });
    expect(copy.has(7)).toBe(true);
    expect(copy.has(0)).toBe(false);
    expect(copy.tracks.length).toBe(10);
    expect(copy.complete).toBe(false);
    expect(copy.apply(page(2, 0, 6))).toEqual({ filled: 6 });
    expect(copy.complete).toBe(true);
    expect(copy.tracks.map((t) => t.title)).toEqual(Array.from({ length: 10 }, (_, i) => `T${i}`));
  });

  it('ignores pages of another version and repeats, and refuses pages past its length', () => {
    const copy = new PlaylistCopy({ version: 2, count: 10, digest: 'f'.repeat(64) });
    expect(copy.apply(page(1, 0, 5))).toEqual({ filled: 0 });
    expect(copy.received).toBe(0);
    copy.apply(page(2, 0, 5));
    const again = { ...page(2, 0, 5), tracks: page(2, 100, 5).tracks };
    expect(copy.apply(again)).toEqual({ filled: 0 });
    expect(copy.tracks[0]!.title).toBe('T0');
    const past = copy.apply(page(2, 8, 5));
    expect(past.filled).toBe(0);
    expect(past.error).toMatch(/past the playlist's 10 tracks/);
    expect(copy.has(8)).toBe(false);
  });

  it('keeps its tracks when renumbered', () => {
    const copy = new PlaylistCopy({ version: 2, count: 3, digest: 'f'.repeat(64) });
    copy.apply(page(2, 0, 3));
    const tracks = copy.tracks;
    copy.renumber(1);
    expect(copy.version).toBe(1);
    expect(copy.tracks).toBe(tracks);
    expect(copy.apply(page(1, 0, 3))).toEqual({ filled: 0 });
  });
});
