import { describe, expect, it } from 'vitest';
import { sharedMs } from '../../src/clock/time.js';
import { PREV_RESTART_THRESHOLD_SEC, applyCommand as applyCommandAt, normalizeTimeline as normalizeTimelineAt, type Command, type CommandResult } from '../../src/leader/timeline-commands.js';
import { TimelineHistory, playheadAt as playheadAtShared, type Timeline, type Track } from '../../src/protocol/index.js';

// The tests state shared-clock instants as plain numbers.
const playheadAt = (t: Timeline, list: Parameters<typeof playheadAtShared>[1], at: number): ReturnType<typeof playheadAtShared> => playheadAtShared(t, list, sharedMs(at));
const applyCommand = (current: Timeline, list: readonly Track[], command: Command, at: number): CommandResult => applyCommandAt(current, list, command, sharedMs(at));
const normalizeTimeline = (current: Timeline, list: readonly Track[], now: number): Timeline => normalizeTimelineAt(current, list, sharedMs(now));

function track(i: number, durationSec: number): Track {
  return { path: `t${i}.mp3`, hash: i.toString(16).padStart(64, '0'), durationSec, title: `Track ${i}` };
}

const tracks: Track[] = [track(1, 10), track(2, 20), track(3, 5)];

function tl(partial: Partial<Omit<Timeline, 'at'>> & { at?: number }): Timeline {
  // repeat 'off': the playlist plays once through (the default)
  const base = { seq: 4, state: 'playing', trackIndex: 0, positionSec: 0, at: 1000, repeat: 'off' };
  return { ...base, ...partial } as Timeline;
}

function ok(r: CommandResult): Timeline {
  if (!r.ok) throw new Error(`expected success, got: ${r.error}`);
  return r.timeline;
}

function err(r: CommandResult): string {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.timeline)}`);
  return r.error;
}

const stopped = tl({ state: 'stopped', trackIndex: 1, positionSec: 0, at: 0 });
const paused = tl({ state: 'paused', trackIndex: 1, positionSec: 7.25, at: 0 });
/** playing track 0 from 2 s at instant 1000 */
const playing = tl({ positionSec: 2 });

describe('applyCommand: common rules', () => {
  it('refuses everything on an empty playlist', () => {
    const kinds: Command[] = [{ kind: 'play' }, { kind: 'pause' }, { kind: 'next' }, { kind: 'seek', seconds: 1 }];
    for (const c of kinds) expect(err(applyCommand(stopped, [], c, 5000))).toBe('the playlist is empty');
  });

  it('the new timeline has the next seq and takes effect at the given instant', () => {
    const t = ok(applyCommand(stopped, tracks, { kind: 'play' }, 12_345.5));
    expect(t.seq).toBe(stopped.seq + 1);
    expect(t.at).toBe(12_345.5);
  });

  it('does not modify the current timeline', () => {
    const before = { ...playing };
    applyCommand(playing, tracks, { kind: 'pause' }, 5000);
    expect(playing).toEqual(before);
  });
});

describe('play', () => {
  it('from stopped: plays the current track from the start', () => {
    expect(ok(applyCommand(stopped, tracks, { kind: 'play' }, 5000))).toMatchObject({ seq: 5, state: 'playing', trackIndex: 1, positionSec: 0, at: 5000 });
  });

  it('from paused: continues where it paused', () => {
    expect(ok(applyCommand(paused, tracks, { kind: 'play' }, 5000))).toMatchObject({ seq: 5, state: 'playing', trackIndex: 1, positionSec: 7.25, at: 5000 });
  });

  it('when already playing or pending: refuses', () => {
    expect(err(applyCommand(playing, tracks, { kind: 'play' }, 5000))).toBe('already playing');
    expect(err(applyCommand(playing, tracks, { kind: 'play' }, 500))).toBe('already playing');
  });

  it('after the playlist has ended: starts again from the first track', () => {
    const t = ok(applyCommand(playing, tracks, { kind: 'play' }, 1000 + 60_000));
    expect(t).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 0 });
  });

  it('with a track: jumps to it from any state', () => {
    for (const cur of [stopped, paused, playing]) {
      expect(ok(applyCommand(cur, tracks, { kind: 'play', trackIndex: 2 }, 5000))).toMatchObject({ state: 'playing', trackIndex: 2, positionSec: 0 });
    }
  });

  it('with a track that does not exist: says so in 1-based numbers', () => {
    expect(err(applyCommand(playing, tracks, { kind: 'play', trackIndex: 3 }, 5000))).toBe('no track 4: the playlist has 3 tracks');
    expect(err(applyCommand(playing, tracks, { kind: 'play', trackIndex: -1 }, 5000))).toMatch(/^no track 0: the playlist has 3 tracks/);
    expect(applyCommand(playing, tracks, { kind: 'play', trackIndex: 1.5 }, 5000).ok).toBe(false);
  });
});

describe('pause / resume', () => {
  it('pause holds the playhead at the instant', () => {
    expect(ok(applyCommand(playing, tracks, { kind: 'pause' }, 1000 + 3000))).toMatchObject({ seq: 5, state: 'paused', trackIndex: 0, positionSec: 5, at: 4000 });
  });

  it('pause after an automatic track change pauses in the new track', () => {
    const t = ok(applyCommand(playing, tracks, { kind: 'pause' }, 1000 + 12_500)); // 2 + 12.5 = 14.5 → track 1 at 4.5
    expect(t).toMatchObject({ state: 'paused', trackIndex: 1 });
    expect(t.positionSec).toBeCloseTo(4.5, 9);
  });

  it('pause of a pending timeline pauses at its starting point', () => {
    expect(ok(applyCommand(playing, tracks, { kind: 'pause' }, 900))).toMatchObject({ state: 'paused', trackIndex: 0, positionSec: 2 });
  });

  it('pause when nothing plays: says why', () => {
    expect(err(applyCommand(paused, tracks, { kind: 'pause' }, 5000))).toBe('nothing to pause (the timeline is paused)');
    expect(err(applyCommand(stopped, tracks, { kind: 'pause' }, 5000))).toBe('nothing to pause (the timeline is stopped)');
    expect(err(applyCommand(playing, tracks, { kind: 'pause' }, 1e9))).toBe('nothing to pause (the playlist has ended)');
  });

  it('resume continues from the paused position', () => {
    expect(ok(applyCommand(paused, tracks, { kind: 'resume' }, 9000))).toMatchObject({ seq: 5, state: 'playing', trackIndex: 1, positionSec: 7.25, at: 9000 });
  });

  it('resume when not paused: says why', () => {
    expect(err(applyCommand(playing, tracks, { kind: 'resume' }, 5000))).toBe('nothing to resume (the timeline is playing)');
    expect(err(applyCommand(playing, tracks, { kind: 'resume' }, 500))).toBe('nothing to resume (the timeline is pending)');
    expect(err(applyCommand(stopped, tracks, { kind: 'resume' }, 5000))).toBe('nothing to resume (the timeline is stopped)');
    expect(err(applyCommand(playing, tracks, { kind: 'resume' }, 1e9))).toBe('nothing to resume (the playlist has ended)');
  });

  it('pause then resume: playback continues from the same position, later', () => {
    const p = ok(applyCommand(playing, tracks, { kind: 'pause' }, 4000));
    const r = ok(applyCommand(p, tracks, { kind: 'resume' }, 60_000));
    expect(r.seq).toBe(6);
    expect(playheadAt(r, tracks, 60_000)).toEqual({ state: 'playing', trackIndex: 0, positionSec: 5 });
    expect(playheadAt(r, tracks, 61_000).positionSec).toBeCloseTo(6, 9);
  });
});

describe('stop', () => {
  it('stops at the start of the current track', () => {
    expect(ok(applyCommand(playing, tracks, { kind: 'stop' }, 1000 + 9000))).toMatchObject({ seq: 5, state: 'stopped', trackIndex: 1, positionSec: 0, at: 10_000 });
    expect(ok(applyCommand(paused, tracks, { kind: 'stop' }, 5000))).toMatchObject({ state: 'stopped', trackIndex: 1, positionSec: 0 });
  });

  it('refuses when already stopped or ended', () => {
    expect(err(applyCommand(stopped, tracks, { kind: 'stop' }, 5000))).toBe('already stopped');
    expect(err(applyCommand(playing, tracks, { kind: 'stop' }, 1e9))).toBe('already stopped');
  });
});

describe('next / prev', () => {
  it('next keeps the state and starts the following track', () => {
    expect(ok(applyCommand(playing, tracks, { kind: 'next' }, 3000))).toMatchObject({ state: 'playing', trackIndex: 1, positionSec: 0 });
    expect(ok(applyCommand(paused, tracks, { kind: 'next' }, 3000))).toMatchObject({ state: 'paused', trackIndex: 2, positionSec: 0 });
    expect(ok(applyCommand(stopped, tracks, { kind: 'next' }, 3000))).toMatchObject({ state: 'stopped', trackIndex: 2, positionSec: 0 });
    expect(ok(applyCommand(playing, tracks, { kind: 'next' }, 900))).toMatchObject({ state: 'playing', trackIndex: 1 });
  });

  it('next counts from the track playing at the instant', () => {
    // at 1000 + 9000 the playlist has moved on to track 1
    expect(ok(applyCommand(playing, tracks, { kind: 'next' }, 10_000))).toMatchObject({ trackIndex: 2 });
  });

  it('next on the last track: refuses', () => {
    expect(err(applyCommand(tl({ trackIndex: 2 }), tracks, { kind: 'next' }, 1000))).toBe('already at the last track');
  });

  it(`prev within ${PREV_RESTART_THRESHOLD_SEC} s of the start goes to the previous track`, () => {
    const cur = tl({ trackIndex: 1, positionSec: 1 });
    expect(ok(applyCommand(cur, tracks, { kind: 'prev' }, 1000 + 1000))).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 0 });
    const atThreshold = tl({ state: 'paused', trackIndex: 2, positionSec: PREV_RESTART_THRESHOLD_SEC });
    expect(ok(applyCommand(atThreshold, tracks, { kind: 'prev' }, 5000))).toMatchObject({ state: 'paused', trackIndex: 1, positionSec: 0 });
  });

  it('prev later in a track restarts it', () => {
    const cur = tl({ trackIndex: 1, positionSec: 1 });
    expect(ok(applyCommand(cur, tracks, { kind: 'prev' }, 1000 + 2500))).toMatchObject({ state: 'playing', trackIndex: 1, positionSec: 0 });
  });

  it('prev on the first track restarts it', () => {
    expect(ok(applyCommand(tl({ positionSec: 0.5 }), tracks, { kind: 'prev' }, 1000))).toMatchObject({ trackIndex: 0, positionSec: 0 });
  });

  it('prev when stopped goes to the previous track, still stopped', () => {
    expect(ok(applyCommand(stopped, tracks, { kind: 'prev' }, 5000))).toMatchObject({ state: 'stopped', trackIndex: 0, positionSec: 0 });
  });
});

describe('seek', () => {
  it('absolute seek in a playing track', () => {
    expect(ok(applyCommand(playing, tracks, { kind: 'seek', seconds: 7.5 }, 3000))).toMatchObject({ seq: 5, state: 'playing', trackIndex: 0, positionSec: 7.5, at: 3000 });
  });

  it('relative seek counts from the playhead at the instant', () => {
    const fwd = ok(applyCommand(playing, tracks, { kind: 'seek', seconds: 4, relative: true }, 1000 + 1000)); // 3 + 4
    expect(fwd.positionSec).toBeCloseTo(7, 9);
    const back = ok(applyCommand(playing, tracks, { kind: 'seek', seconds: -2.5, relative: true }, 1000 + 1000)); // 3 − 2.5
    expect(back.positionSec).toBeCloseTo(0.5, 9);
  });

  it('relative seek before the start clamps to the start of the track', () => {
    expect(ok(applyCommand(playing, tracks, { kind: 'seek', seconds: -100, relative: true }, 2000))).toMatchObject({ trackIndex: 0, positionSec: 0 });
    expect(ok(applyCommand(playing, tracks, { kind: 'seek', seconds: -3 }, 2000))).toMatchObject({ positionSec: 0 });
  });

  it('relative seek of 0 keeps the playhead exactly', () => {
    const at = 1000 + 4321;
    const t = ok(applyCommand(playing, tracks, { kind: 'seek', seconds: 0, relative: true }, at));
    for (const ms of [at, at + 1, at + 5000, at + 20_000]) {
      expect(playheadAt(t, tracks, ms).trackIndex).toBe(playheadAt(playing, tracks, ms).trackIndex);
      expect(playheadAt(t, tracks, ms).positionSec).toBeCloseTo(playheadAt(playing, tracks, ms).positionSec, 9);
    }
  });

  it('seek in a paused track stays paused', () => {
    expect(ok(applyCommand(paused, tracks, { kind: 'seek', seconds: 1, relative: true }, 5000))).toMatchObject({ state: 'paused', trackIndex: 1, positionSec: 8.25 });
  });

  it('seek past the end of the track: refuses with both numbers', () => {
    expect(err(applyCommand(playing, tracks, { kind: 'seek', seconds: 10 }, 2000))).toBe('seek to 10.0 s is past the end of the track (10.0 s)');
    expect(err(applyCommand(playing, tracks, { kind: 'seek', seconds: 9, relative: true }, 2000))).toBe('seek to 12.0 s is past the end of the track (10.0 s)');
  });

  it('seek when stopped or ended: refuses', () => {
    expect(err(applyCommand(stopped, tracks, { kind: 'seek', seconds: 1 }, 5000))).toBe('nothing to seek in (stopped); play first');
    expect(err(applyCommand(playing, tracks, { kind: 'seek', seconds: 1 }, 1e9))).toBe('nothing to seek in (stopped); play first');
  });

  it('seek without a finite number: refuses', () => {
    expect(err(applyCommand(playing, tracks, { kind: 'seek', seconds: NaN }, 2000))).toBe('seek needs a number of seconds');
    expect(err(applyCommand(playing, tracks, { kind: 'seek', seconds: Infinity, relative: true }, 2000))).toBe('seek needs a number of seconds');
  });
});

describe('the new timeline takes over where the old one is at the instant', () => {
  const instants = [1000, 1000 + 1234.5, 1000 + 8000, 1000 + 8000.25, 1000 + 20_000];
  for (const at of instants) {
    it(`pause at ${at}`, () => {
      const before = playheadAt(playing, tracks, at);
      const after = playheadAt(ok(applyCommand(playing, tracks, { kind: 'pause' }, at)), tracks, at);
      expect(after.trackIndex).toBe(before.trackIndex);
      expect(after.positionSec).toBeCloseTo(before.positionSec, 9);
      expect(after.state).toBe('paused');
    });
  }

  it('a chain of commands never jumps the music except where it means to', () => {
    let t = tl({ seq: 0, state: 'stopped', at: 0 });
    t = ok(applyCommand(t, tracks, { kind: 'play' }, 100));
    t = ok(applyCommand(t, tracks, { kind: 'pause' }, 4100));
    expect(playheadAt(t, tracks, 99_999)).toEqual({ state: 'paused', trackIndex: 0, positionSec: 4 });
    t = ok(applyCommand(t, tracks, { kind: 'resume' }, 50_000));
    t = ok(applyCommand(t, tracks, { kind: 'seek', seconds: 3, relative: true }, 52_000)); // 6 + 3
    const p = playheadAt(t, tracks, 53_500);
    expect(p.trackIndex).toBe(1); // 9 + 1.5 = 10.5 → 0.5 s into track 1
    expect(p.positionSec).toBeCloseTo(0.5, 9);
    expect(t.seq).toBe(4);
  });
});

describe('normalizeTimeline', () => {
  it('returns the same object when there is nothing to restate', () => {
    expect(normalizeTimeline(paused, tracks, 1e9)).toBe(paused);
    expect(normalizeTimeline(stopped, tracks, 1e9)).toBe(stopped);
    expect(normalizeTimeline(playing, tracks, 500)).toBe(playing); // pending
    expect(normalizeTimeline(playing, tracks, 1000 + 7999)).toBe(playing); // still in the same track
  });

  it('re-anchors at the start of the track now playing', () => {
    const now = 1000 + 15_000; // 2 + 15 = 17 → track 1 at 7
    const n = normalizeTimeline(playing, tracks, now);
    expect(n).not.toBe(playing);
    // a restatement, not a new command: the sequence number names the command and stays
    expect(n.seq).toBe(playing.seq);
    expect(n.state).toBe('playing');
    expect(n.trackIndex).toBe(1);
    expect(n.positionSec).toBe(0);
    expect(n.at).toBeCloseTo(1000 + 8000, 9); // track 1 started when track 0's remaining 8 s ran out
    expect(n.at).toBeLessThanOrEqual(now);
  });

  it('keeps the same playhead at every instant from now on', () => {
    const cur = tl({ trackIndex: 0, positionSec: 3.3, at: 123_456.789 });
    for (const elapsed of [6.7, 6.7001, 9, 26.6999, 27, 30, 31.6999]) {
      const now = cur.at + elapsed * 1000;
      const n = normalizeTimeline(cur, tracks, now);
      for (let ms = now; ms < now + 40_000; ms += 250.5) {
        const a = playheadAt(cur, tracks, ms);
        const b = playheadAt(n, tracks, ms);
        expect(b.state, `elapsed ${elapsed}, at ${ms}`).toBe(a.state);
        if (a.state === 'playing') {
          // allow for the boundary landing a rounding error to either side of a track change
          const same = b.trackIndex === a.trackIndex && Math.abs(b.positionSec - a.positionSec) < 1e-6;
          expect(same, `elapsed ${elapsed}, at ${ms}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(true);
        }
      }
    }
  });

  it('a normalized timeline is stable: normalizing again in the same track changes nothing', () => {
    const n = normalizeTimeline(playing, tracks, 1000 + 15_000);
    expect(normalizeTimeline(n, tracks, 1000 + 16_000)).toBe(n);
  });

  it('the end of the playlist becomes stopped at the first track, from now', () => {
    const now = 1000 + 40_000;
    expect(normalizeTimeline(playing, tracks, now)).toMatchObject({ seq: playing.seq, state: 'stopped', trackIndex: 0, positionSec: 0, at: now });
  });

  it('commands after normalization behave as on the original timeline', () => {
    const n = normalizeTimeline(playing, tracks, 1000 + 15_000);
    const at = 1000 + 16_000;
    const a = ok(applyCommand(playing, tracks, { kind: 'pause' }, at));
    const b = ok(applyCommand(n, tracks, { kind: 'pause' }, at));
    expect(b.trackIndex).toBe(a.trackIndex);
    expect(b.positionSec).toBeCloseTo(a.positionSec, 9);
  });

  it('a member already following the command ignores the restatement and plays on identically', () => {
    const history = new TimelineHistory();
    history.add(playing);
    const n = normalizeTimeline(playing, tracks, 1000 + 15_000);
    expect(history.add(n)).toBe(false);
    const followed = history.effective(1000 + 16_000)!;
    expect(playheadAt(followed, tracks, 1000 + 16_000).trackIndex).toBe(playheadAt(n, tracks, 1000 + 16_000).trackIndex);
    expect(playheadAt(followed, tracks, 1000 + 16_000).positionSec).toBeCloseTo(playheadAt(n, tracks, 1000 + 16_000).positionSec, 9);
    // a member joining later starts from the restatement and accepts the next command normally
    const late = new TimelineHistory();
    expect(late.add(n)).toBe(true);
    expect(late.add(ok(applyCommand(n, tracks, { kind: 'pause' }, 1000 + 17_000)))).toBe(true);
  });
});
