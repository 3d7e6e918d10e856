/**
 * A leader and three members on this machine, real mpv (--ao=null): they start together,
 * hold sync within ±20 ms (true error, measured against the leader's timeline on the shared
 * CLOCK_MONOTONIC), and follow every command together.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberView } from '../../src/leader/leader.js';
import type { Track } from '../../src/protocol/index.js';
import { Cluster, describeMember, expectConverged, expectInSync, formatReports, memberNamed, nowMs, sleepUntil, type MemberHandle, type Reading } from './harness.js';

const NAMES = ['alpha', 'bravo', 'charlie'];
/** convergence after a command must come within this long of its instant (~1 s on a quiet machine) */
const CONVERGE_WITHIN_MS = 8000;
const BOUND_MS = 20;

describe('three members in sync', () => {
  const cluster = new Cluster('syncplay-sync');
  let members: MemberHandle[] = [];
  let tracks: readonly Track[] = [];

  beforeAll(async () => {
    await cluster.startLeader();
    members = await Promise.all(NAMES.map((name) => cluster.startMember({ name })));
    tracks = (await cluster.status()).tracks;
  });
  afterAll(() => cluster.cleanup());

  const allMembers = (pred: (m: MemberView) => boolean) => async () => {
    const s = await cluster.status();
    return NAMES.every((n) => {
      const m = memberNamed(s, n);
      return m !== undefined && m.connected && pred(m);
    });
  };

  it('plays track 1 on every member, within ±20 ms of the timeline after convergence', async () => {
    const timeline = await cluster.command({ cmd: 'play' });
    expect(timeline).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 0 });
    await cluster.poll('all members playing track index 0', allMembers((m) => m.playerState === 'playing' && m.trackIndex === 0), { timeoutMs: 10_000 });

    const { convergedAfterMs } = await expectConverged(cluster, members, timeline, tracks, { withinMs: CONVERGE_WITHIN_MS, holdMs: 0, boundMs: BOUND_MS });
    const before = await cluster.status();
    const from = nowMs();
    const reports = await expectInSync(cluster, members, timeline, tracks, from, from + 4000, BOUND_MS);
    const after = await cluster.status();
    for (const n of NAMES) {
      const b = memberNamed(before, n)!;
      const a = memberNamed(after, n)!;
      expect(a.hardSeeks, `${n} re-synced with a hard seek after convergence: ${describeMember(a)}`).toBe(b.hardSeeks);
      expect(a.playerState).toBe('playing');
      expect(a.fileStatus).toBe('ok');
    }
    // Each member's telemetry is for its own name and the track the timeline plays.
    for (const m of members) {
      const rs = m.readings().filter((r) => r.localMs >= from);
      expect(rs.every((r) => r.member === m.name && r.trackIndex === 0)).toBe(true);
    }
    console.info(`converged ${convergedAfterMs.toFixed(0)} ms after the play instant; then over 4 s:\n${formatReports(reports)}`);
  });

  it('follows pause, resume, seek, next, prev and stop on every member', async () => {
    // Normally the previous test left everyone playing; when run alone, start here.
    if ((await cluster.status()).playhead.state !== 'playing') await cluster.command({ cmd: 'play' });
    await cluster.poll('all members playing', allMembers((m) => m.playerState === 'playing'), { timeoutMs: 10_000 });

    // pause: everyone paused at the same position: the one the paused timeline names.
    const paused = await cluster.command({ cmd: 'pause' });
    expect(paused.state).toBe('paused');
    await cluster.poll('all members paused', allMembers((m) => m.playerState === 'paused' && m.trackIndex === paused.trackIndex), { timeoutMs: 10_000 });
    for (const m of members) {
      // The last reading before the pause instant, carried forward to that instant.
      const last = lastBefore(m.readings(), paused.at);
      expect(last, `${m.name} has no reading before the pause`).toBeDefined();
      const projected = last!.audioPtsSec + ((paused.at - last!.localMs) / 1000) * last!.speed;
      expect(Math.abs(projected - paused.positionSec) * 1000, `${m.name}: position at the pause instant vs the paused timeline`).toBeLessThan(BOUND_MS + 5);
    }
    // While paused no readings are taken (nothing is playing).
    const pausedSince = nowMs();
    await new Promise((r) => setTimeout(r, 800));
    for (const m of members) expect(m.readings().filter((r) => r.localMs > pausedSince)).toHaveLength(0);

    // seek while paused: still paused, at the new position.
    const pausedSeek = await cluster.command({ cmd: 'seek', seconds: 5 });
    expect(pausedSeek).toMatchObject({ state: 'paused', trackIndex: 0, positionSec: 5 });
    await sleepUntil(pausedSeek.at + 700);
    await cluster.poll('all members still paused after a paused seek', allMembers((m) => m.playerState === 'paused' && m.trackIndex === 0), { timeoutMs: 5000 });

    // resume: playing again from the paused position (5 s), in sync.
    const resumed = await cluster.command({ cmd: 'resume' });
    expect(resumed).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 5 });
    await cluster.poll('all members playing after resume', allMembers((m) => m.playerState === 'playing'), { timeoutMs: 10_000 });
    await expectConverged(cluster, members, resumed, tracks, { withinMs: CONVERGE_WITHIN_MS, holdMs: 1500, boundMs: BOUND_MS });

    // seek 10: audio-pts near 10 s + time since the instant.
    const seeked = await cluster.command({ cmd: 'seek', seconds: 10 });
    expect(seeked).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 10 });
    await expectConverged(cluster, members, seeked, tracks, { withinMs: CONVERGE_WITHIN_MS, holdMs: 1000, boundMs: BOUND_MS });
    for (const m of members) {
      // Every reading after the instant is from the new position (none from before the seek).
      const rs = m.readings().filter((r) => r.localMs >= seeked.at + 200);
      expect(rs.length, `${m.name}: readings after the seek`).toBeGreaterThan(0);
      for (const r of rs) {
        const expected = 10 + (r.localMs + r.latencyOffsetMs - seeked.at) / 1000;
        expect(Math.abs(r.audioPtsSec - expected) * 1000, `${m.name}: audio-pts ${r.audioPtsSec} s vs ${expected.toFixed(4)} s after seek 10`).toBeLessThan(100);
      }
    }

    // next: everyone on track index 1.
    const next = await cluster.command({ cmd: 'next' });
    expect(next).toMatchObject({ state: 'playing', trackIndex: 1, positionSec: 0 });
    await cluster.poll('all members playing track index 1', allMembers((m) => m.playerState === 'playing' && m.trackIndex === 1), { timeoutMs: 10_000 });
    await sleepUntil(next.at + 1200);
    for (const m of members) {
      const rs = m.readings().filter((r) => r.localMs > next.at + 500);
      expect(rs.length).toBeGreaterThan(0);
      expect(rs.every((r) => r.trackIndex === 1), `${m.name} telemetry after next: ${JSON.stringify(rs.slice(-2))}`).toBe(true);
    }

    // prev within the first 3 s of a track goes back to the previous track. (If the machine was
    // slow and the track is already past 3 s, prev restarts it; a second prev then goes back.)
    let prev = await cluster.command({ cmd: 'prev' });
    if (prev.trackIndex === 1) prev = await cluster.command({ cmd: 'prev' });
    expect(prev).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 0 });
    await cluster.poll('all members back on track index 0', allMembers((m) => m.playerState === 'playing' && m.trackIndex === 0), { timeoutMs: 10_000 });
    await expectConverged(cluster, members, prev, tracks, { withinMs: CONVERGE_WITHIN_MS, holdMs: 1000, boundMs: BOUND_MS });

    // Across a track boundary (track 1 is 24 s long) mpv plays on gaplessly from its queue:
    // still in sync on track index 1, without any re-arm or hard seek.
    const nearEnd = await cluster.command({ cmd: 'seek', seconds: 15 });
    const boundary = nearEnd.at + (tracks[0]!.durationSec - 15) * 1000;
    await cluster.poll('all members playing near the end of track index 0', allMembers((m) => m.playerState === 'playing' && m.trackIndex === 0), { timeoutMs: 5000 });
    const { convergedAt } = await expectConverged(cluster, members, nearEnd, tracks, { withinMs: 7500, holdMs: 0, boundMs: BOUND_MS });
    const beforeBoundary = await cluster.status();
    const logMarks = members.map((m) => m.proc.lines.length);
    expect(nowMs(), 'converged too late to watch the boundary').toBeLessThan(boundary - 300);
    await expectInSync(cluster, members, nearEnd, tracks, convergedAt, boundary + 2500, BOUND_MS);
    const afterBoundary = await cluster.status();
    members.forEach((m, i) => {
      const b = memberNamed(beforeBoundary, m.name)!;
      const a = memberNamed(afterBoundary, m.name)!;
      expect(a.trackIndex, describeMember(a)).toBe(1);
      expect(a.hardSeeks, `${m.name} hard-seeked across the boundary: ${describeMember(a)}`).toBe(b.hardSeeks);
      const restarted = m.proc.lines.slice(logMarks[i]).filter((l) => /starting track|re-syncing/.test(l));
      expect(restarted, `${m.name} re-armed at the boundary instead of playing on`).toEqual([]);
    });

    // stop: everyone idle, no more readings.
    const stopped = await cluster.command({ cmd: 'stop' });
    expect(stopped.state).toBe('stopped');
    await cluster.poll('all members idle', allMembers((m) => m.playerState === 'idle'), { timeoutMs: 10_000 });
    const idleSince = nowMs();
    await new Promise((r) => setTimeout(r, 600));
    for (const m of members) expect(m.readings().filter((r) => r.localMs > idleSince)).toHaveLength(0);
    const s = await cluster.status();
    expect(s.playhead.state).toBe('stopped');
    expect(s.members.filter((m) => m.connected)).toHaveLength(3);
  });
});

function lastBefore(rs: Reading[], t: number): Reading | undefined {
  let found: Reading | undefined;
  for (const r of rs) if (r.localMs <= t) found = r;
  return found;
}
