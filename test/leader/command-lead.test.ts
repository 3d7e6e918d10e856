/**
 * The instant a command is set for: --lead-ms ahead, but a start from silence at a track's
 * beginning at least --start-lead-ms ahead (members align such a start on silence first).
 */
import { describe, expect, it } from 'vitest';
import { sharedMs } from '../../src/clock/time.js';
import { Leader } from '../../src/leader/leader.js';
import { silentLogger } from '../../src/log/logger.js';
import type { Track } from '../../src/protocol/index.js';

const tracks: Track[] = [1, 2, 3].map((i) => ({ path: `${i}.ogg`, hash: String(i).repeat(64), durationSec: 60, title: `t${i}` }));

function leaderAt(startLeadMs?: number) {
  let nowMs = 1_000_000;
  const leader = new Leader({ host: '127.0.0.1', port: 0, tracks, secret: null, leadMs: 100, ...(startLeadMs !== undefined ? { startLeadMs } : {}), version: 'test', log: silentLogger, settingsFile: null, clock: () => sharedMs(nowMs) });
  const lead = (c: Parameters<Leader['command']>[0]): number => {
    const r = leader.command(c);
    if (!r.ok) throw new Error(r.error);
    return r.timeline.at - nowMs;
  };
  return { leader, lead, advance: (ms: number) => (nowMs += ms) };
}

describe('command lead', () => {
  it('a PLAY from silence at a track\'s beginning is set --start-lead-ms ahead; everything else --lead-ms', () => {
    const { lead, advance } = leaderAt(700);
    expect(lead({ kind: 'play' })).toBe(700); // stopped → track 1 from its start
    advance(2000);
    expect(lead({ kind: 'next' })).toBe(100); // playing: the next track now, not 0.7 s of the old one more
    advance(2000);
    expect(lead({ kind: 'seek', seconds: 30 })).toBe(100);
    advance(2000);
    expect(lead({ kind: 'pause' })).toBe(100);
    advance(2000);
    expect(lead({ kind: 'resume' })).toBe(100); // mid-track: no pre-roll is possible there
    advance(2000);
    expect(lead({ kind: 'stop' })).toBe(100);
    advance(2000);
    expect(lead({ kind: 'play', trackIndex: 1 })).toBe(700); // stopped again: track 2 from its start
    advance(2000);
    expect(lead({ kind: 'pause' })).toBe(100);
    advance(2000);
    expect(lead({ kind: 'next' })).toBe(100); // paused: a jump stays paused, nothing starts
  });

  it('without a start lead (or one below --lead-ms) every command is set --lead-ms ahead', () => {
    expect(leaderAt().lead({ kind: 'play' })).toBe(100);
    expect(leaderAt(50).lead({ kind: 'play' })).toBe(100);
  });

  it('a command just before a start already due is set --lead-ms ahead: it replaces that start, which does not play meanwhile', () => {
    const { leader, lead, advance } = leaderAt(700);
    const r = leader.command({ kind: 'play' }, sharedMs(1_001_000)); // a scheduled start 1 s ahead
    expect(r.ok).toBe(true);
    advance(500); // 0.5 s before it: at +0.1 s still silent, at +0.7 s it would be playing
    expect(lead({ kind: 'play', trackIndex: 2 })).toBe(100);
  });

  it('an instant given by the caller (a scheduled start) is kept', () => {
    const { leader } = leaderAt(700);
    const r = leader.command({ kind: 'play' }, sharedMs(1_005_000));
    expect(r.ok && r.timeline.at).toBe(1_005_000);
  });
});
