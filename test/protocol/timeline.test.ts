import { describe, expect, it } from 'vitest';
import { sharedMs } from '../../src/clock/time.js';
import { TimelineHistory, playheadAt as playheadAtShared, trackStartsAt, type Timeline } from '../../src/protocol/index.js';

/** The tests state shared-clock instants as plain numbers. */
const playheadAt = (t: Timeline, list: Parameters<typeof playheadAtShared>[1], at: number): ReturnType<typeof playheadAtShared> => playheadAtShared(t, list, sharedMs(at));

const tracks = [{ durationSec: 10 }, { durationSec: 20 }, { durationSec: 5 }];

function tl(partial: Partial<Omit<Timeline, 'at'>> & { at?: number }): Timeline {
  // repeat 'off': the playlist plays once through (the default)
  const base = { seq: 1, state: 'playing', trackIndex: 0, positionSec: 0, at: 1000, repeat: 'off' };
  return { ...base, ...partial } as Timeline;
}

describe('playheadAt', () => {
  it('a paused timeline stands still at any instant, before or after its instant', () => {
    const t = tl({ state: 'paused', trackIndex: 1, positionSec: 4.5 });
    for (const ms of [0, 1000, 50_000, 1e9]) {
      expect(playheadAt(t, tracks, ms)).toEqual({ state: 'paused', trackIndex: 1, positionSec: 4.5 });
    }
  });

  it('a stopped timeline stands still', () => {
    const t = tl({ state: 'stopped', trackIndex: 2, positionSec: 0 });
    expect(playheadAt(t, tracks, 1e7)).toEqual({ state: 'stopped', trackIndex: 2, positionSec: 0 });
  });

  it('a playing timeline is pending before its instant', () => {
    const t = tl({ trackIndex: 1, positionSec: 3 });
    expect(playheadAt(t, tracks, 999.999)).toEqual({ state: 'pending', trackIndex: 1, positionSec: 3 });
  });

  it('at its instant the playhead is exactly where the timeline says', () => {
    const t = tl({ trackIndex: 1, positionSec: 3 });
    expect(playheadAt(t, tracks, 1000)).toEqual({ state: 'playing', trackIndex: 1, positionSec: 3 });
  });

  it('advances at rate 1 within a track', () => {
    const t = tl({ positionSec: 2 });
    const p = playheadAt(t, tracks, 1000 + 3500);
    expect(p.state).toBe('playing');
    expect(p.trackIndex).toBe(0);
    expect(p.positionSec).toBeCloseTo(5.5, 12);
  });

  it('auto-advances into the next track', () => {
    const t = tl({ positionSec: 8 });
    const p = playheadAt(t, tracks, 1000 + 5000); // 8 + 5 = 13 → track 1 at 3
    expect(p).toMatchObject({ state: 'playing', trackIndex: 1 });
    expect(p.positionSec).toBeCloseTo(3, 12);
  });

  it('the exact end of a track is the start of the next one', () => {
    const t = tl({ positionSec: 0 });
    expect(playheadAt(t, tracks, 1000 + 10_000)).toEqual({ state: 'playing', trackIndex: 1, positionSec: 0 });
    expect(playheadAt(t, tracks, 1000 + 30_000)).toEqual({ state: 'playing', trackIndex: 2, positionSec: 0 });
  });

  it('auto-advances across several tracks at once', () => {
    const t = tl({ positionSec: 1 });
    const p = playheadAt(t, tracks, 1000 + 31_000); // 1 + 31 = 32 → past 10 + 20 → track 2 at 2
    expect(p).toMatchObject({ state: 'playing', trackIndex: 2 });
    expect(p.positionSec).toBeCloseTo(2, 12);
  });

  it('past the last track the playlist has ended', () => {
    const t = tl({ positionSec: 0 });
    expect(playheadAt(t, tracks, 1000 + 35_000)).toEqual({ state: 'ended', trackIndex: 3, positionSec: 0 });
    expect(playheadAt(t, tracks, 1e12)).toEqual({ state: 'ended', trackIndex: 3, positionSec: 0 });
  });

  it('skips zero-length tracks', () => {
    const withEmpty = [{ durationSec: 10 }, { durationSec: 0 }, { durationSec: 5 }];
    const p = playheadAt(tl({ positionSec: 9 }), withEmpty, 1000 + 2000);
    expect(p).toMatchObject({ state: 'playing', trackIndex: 2 });
    expect(p.positionSec).toBeCloseTo(1, 12);
  });

  it('an empty playlist or an index past the end has ended', () => {
    expect(playheadAt(tl({}), [], 1000)).toEqual({ state: 'ended', trackIndex: 0, positionSec: 0 });
    expect(playheadAt(tl({ trackIndex: 7 }), tracks, 2000)).toEqual({ state: 'ended', trackIndex: 3, positionSec: 0 });
  });

  it('is monotone: the playlist position never goes backwards while playing', () => {
    const t = tl({ trackIndex: 0, positionSec: 4 });
    const starts = [0, 10, 30];
    let last = -Infinity;
    for (let ms = 1000; ms < 1000 + 31_000; ms += 137) {
      const p = playheadAt(t, tracks, ms);
      const abs = starts[p.trackIndex]! + p.positionSec;
      expect(abs).toBeGreaterThanOrEqual(last);
      expect(abs).toBeCloseTo(4 + (ms - 1000) / 1000, 9);
      last = abs;
    }
  });
});

describe('trackStartsAt', () => {
  const t = tl({ trackIndex: 0, positionSec: 8, at: 5000 });

  it('gives the instant each following track starts', () => {
    expect(trackStartsAt(t, tracks, 1)).toBe(5000 + 2000);
    expect(trackStartsAt(t, tracks, 2)).toBe(5000 + 22_000);
  });

  it('the last track runs until the playlist ends', () => {
    const lastStart = trackStartsAt(t, tracks, 2)!;
    expect(playheadAt(t, tracks, lastStart + 4999).state).toBe('playing');
    expect(playheadAt(t, tracks, lastStart + 5000).state).toBe('ended');
  });

  it('agrees with playheadAt', () => {
    for (const i of [1, 2]) {
      const at = trackStartsAt(t, tracks, i)!;
      expect(playheadAt(t, tracks, at)).toEqual({ state: 'playing', trackIndex: i, positionSec: 0 });
      const before = playheadAt(t, tracks, at - 1);
      expect(before.trackIndex).toBe(i - 1);
    }
  });

  it('is null for the current or an earlier track, past the end, or when not playing', () => {
    expect(trackStartsAt(tl({ trackIndex: 1 }), tracks, 1)).toBeNull();
    expect(trackStartsAt(tl({ trackIndex: 1 }), tracks, 0)).toBeNull();
    expect(trackStartsAt(t, tracks, 4)).toBeNull();
    expect(trackStartsAt(t, tracks, 7)).toBeNull();
    expect(trackStartsAt({ ...t, state: 'paused' }, tracks, 1)).toBeNull();
    expect(trackStartsAt({ ...t, state: 'stopped' }, tracks, 1)).toBeNull();
  });
});

describe('TimelineHistory', () => {
  it('starts empty', () => {
    const h = new TimelineHistory();
    expect(h.effective(sharedMs(0))).toBeNull();
    expect(h.upcoming(sharedMs(0))).toBeNull();
    expect(h.latest()).toBeNull();
  });

  it('the newest timeline whose instant has come is effective; the next one is upcoming', () => {
    const h = new TimelineHistory();
    const a = tl({ seq: 1, at: 1000 });
    const b = tl({ seq: 2, at: 2000, state: 'paused' });
    expect(h.add(a)).toBe(true);
    expect(h.add(b)).toBe(true);
    expect(h.effective(sharedMs(999))).toBeNull();
    expect(h.upcoming(sharedMs(999))).toBe(a);
    expect(h.effective(sharedMs(1000))).toBe(a);
    expect(h.effective(sharedMs(1999.9))).toBe(a);
    expect(h.upcoming(sharedMs(1500))).toBe(b);
    expect(h.effective(sharedMs(2000))).toBe(b);
    expect(h.upcoming(sharedMs(2000))).toBeNull();
    expect(h.latest()).toBe(b);
  });

  it('ignores repeats (heartbeats restate the current timeline) and older sequence numbers', () => {
    const h = new TimelineHistory();
    const a = tl({ seq: 1, at: 1000 });
    const c = tl({ seq: 3, at: 3000 });
    h.add(a);
    h.add(c);
    expect(h.add({ ...c })).toBe(false);
    expect(h.add(tl({ seq: 2, at: 2500 }))).toBe(false); // older than the newest, newer than the oldest
    expect(h.add({ ...a })).toBe(false);
    expect(h.effective(sharedMs(2600))).toBe(a);
    expect(h.latest()).toBe(c);
  });

  it('a newer command replaces an announced timeline that would take effect after it', () => {
    const h = new TimelineHistory();
    const a = tl({ seq: 1, at: 1000 });
    const b = tl({ seq: 2, at: 5000, state: 'paused' });
    const c = tl({ seq: 3, at: 3000, state: 'stopped' });
    h.add(a);
    h.add(b);
    expect(h.add(c)).toBe(true);
    expect(h.upcoming(sharedMs(2000))).toBe(c);
    expect(h.effective(sharedMs(4000))).toBe(c);
    expect(h.effective(sharedMs(6000))).toBe(c); // b is gone
    expect(h.latest()).toBe(c);
  });

  it('a newer command at the same instant replaces the announced one', () => {
    const h = new TimelineHistory();
    h.add(tl({ seq: 1, at: 1000 }));
    h.add(tl({ seq: 2, at: 5000, state: 'paused' }));
    const c = tl({ seq: 3, at: 5000, state: 'stopped' });
    h.add(c);
    expect(h.effective(sharedMs(5000))).toBe(c);
    expect(h.upcoming(sharedMs(1000))).toBe(c);
  });

  it('a newer command with a later instant keeps the earlier announcement', () => {
    const h = new TimelineHistory();
    const a = tl({ seq: 1, at: 1000 });
    const b = tl({ seq: 2, at: 5000, state: 'paused' });
    const c = tl({ seq: 3, at: 6000 });
    h.add(a);
    h.add(b);
    h.add(c);
    expect(h.effective(sharedMs(5500))).toBe(b);
    expect(h.upcoming(sharedMs(5500))).toBe(c);
    expect(h.upcoming(sharedMs(2000))).toBe(b);
  });

  it('prune forgets superseded timelines but keeps the effective and upcoming ones', () => {
    const h = new TimelineHistory();
    const a = tl({ seq: 1, at: 1000 });
    const b = tl({ seq: 2, at: 2000 });
    const c = tl({ seq: 3, at: 3000 });
    h.add(a);
    h.add(b);
    h.add(c);
    h.prune(sharedMs(2500));
    expect(h.effective(sharedMs(2500))).toBe(b);
    expect(h.upcoming(sharedMs(2500))).toBe(c);
    expect(h.effective(sharedMs(1500))).toBeNull(); // a is forgotten
    h.prune(sharedMs(500)); // nothing effective at 500: nothing to forget
    expect(h.effective(sharedMs(2500))).toBe(b);
    h.prune(sharedMs(10_000));
    expect(h.effective(sharedMs(10_000))).toBe(c);
    expect(h.effective(sharedMs(2500))).toBeNull();
    expect(h.latest()).toBe(c);
  });

  it('a lower sequence number than everything known means the leader restarted: start over', () => {
    const h = new TimelineHistory();
    h.add(tl({ seq: 5, at: 1_000_000 }));
    h.add(tl({ seq: 6, at: 1_002_000 }));
    const fresh = tl({ seq: 0, state: 'stopped', at: 50 });
    expect(h.add(fresh)).toBe(true);
    expect(h.latest()).toBe(fresh);
    expect(h.effective(sharedMs(1_005_000))).toBe(fresh);
    expect(h.upcoming(sharedMs(100))).toBeNull();
    // and it goes on normally from there
    const next = tl({ seq: 1, at: 200 });
    expect(h.add(next)).toBe(true);
    expect(h.effective(sharedMs(300))).toBe(next);
  });

  it('after pruning, a restarted leader with a small but non-zero seq is still accepted', () => {
    const h = new TimelineHistory();
    h.add(tl({ seq: 4, at: 1000 }));
    h.add(tl({ seq: 9, at: 2000 }));
    h.prune(sharedMs(3000));
    const restarted = tl({ seq: 2, at: 10 });
    expect(h.add(restarted)).toBe(true);
    expect(h.latest()).toBe(restarted);
  });

  it('clear forgets everything', () => {
    const h = new TimelineHistory();
    h.add(tl({ seq: 3, at: 1000 }));
    h.clear();
    expect(h.latest()).toBeNull();
    expect(h.add(tl({ seq: 1, at: 5 }))).toBe(true);
  });
});
