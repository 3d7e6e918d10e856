/**
 * Members that join late, lose their mpv, or lose their leader get back in sync (or keep it).
 * Real leader, members and mpv (--ao=null); true errors measured on the shared CLOCK_MONOTONIC.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, commandLine, describeMember, expectConverged, isAlive, memberNamed, mpvChildOf, nowMs, sleep, sleepUntil, trueErrorMs, type MemberHandle, type Reading } from './harness.js';

const BOUND_MS = 20;

describe('recovery', () => {
  let cluster: Cluster;
  afterEach(() => cluster?.cleanup());

  it('a member started 5 s after play converges within ±20 ms', async () => {
    cluster = new Cluster('syncplay-late');
    await cluster.startLeader();
    const early = await cluster.startMember({ name: 'early' });
    // A member whose output has 150 ms of latency plays the timeline 150 ms early.
    const ahead = await cluster.startMember({ name: 'ahead', latencyOffsetMs: 150 });
    const { tracks } = await cluster.status();
    const timeline = await cluster.command({ cmd: 'play' });

    await sleepUntil(timeline.at + 5000);
    const late = await cluster.startMember({ name: 'late' });
    const joinedAt = nowMs();
    await cluster.waitFor('the late member to play track index 0', (s) => memberNamed(s, 'late')?.playerState === 'playing' && memberNamed(s, 'late')?.trackIndex === 0, { timeoutMs: 10_000 });
    expect(late.proc.output).toMatch(/starting track 1 at \d+\.\d+ s/);

    // Soon after joining, the late member is as close to the timeline as the early ones.
    const { convergedAt, convergedAfterMs } = await expectConverged(cluster, [early, late, ahead], timeline, tracks, { sinceMs: joinedAt, holdMs: 2000, boundMs: BOUND_MS });
    console.info(`late joiner within ±${BOUND_MS} ms ${convergedAfterMs.toFixed(0)} ms after it was started`);
    const from = convergedAt;
    // The offset member is 150 ms ahead of the early one at the same instants.
    const meanLeadMs = (rs: Reading[]): number => rs.reduce((sum, r) => sum + r.audioPtsSec * 1000 - (r.localMs - timeline.at), 0) / rs.length;
    const inWindow = (m: MemberHandle): Reading[] => m.readings().filter((r) => r.localMs >= from && r.localMs <= from + 3000);
    expect(inWindow(ahead).every((r) => r.latencyOffsetMs === 150)).toBe(true);
    const aheadByMs = meanLeadMs(inWindow(ahead)) - meanLeadMs(inWindow(early));
    expect(aheadByMs).toBeGreaterThan(150 - BOUND_MS);
    expect(aheadByMs).toBeLessThan(150 + BOUND_MS);
    expect(memberNamed(await cluster.status(), 'ahead')!.latencyOffsetMs).toBe(150);
    // It joined mid-track: its first readings are already well into track 1.
    const first = late.readings()[0]!;
    expect(first.audioPtsSec).toBeGreaterThan(5);
    expect(memberNamed(await cluster.status(), 'early')!.hardSeeks).toBe(0);
  });

  it('a member whose mpv is killed -9 restarts it and is back in sync within ~10 s', async () => {
    cluster = new Cluster('syncplay-mpvkill');
    await cluster.startLeader();
    const steady = await cluster.startMember({ name: 'steady' });
    const victim = await cluster.startMember({ name: 'victim' });
    const { tracks } = await cluster.status();
    const timeline = await cluster.command({ cmd: 'play' });
    await cluster.waitFor('both members playing', (s) => ['steady', 'victim'].every((n) => memberNamed(s, n)?.playerState === 'playing'), { timeoutMs: 10_000 });
    await sleepUntil(timeline.at + 2500);

    const mpv = mpvChildOf(victim.proc.pid);
    expect(mpv, `no mpv child of member pid ${victim.proc.pid}`).not.toBeNull();
    expect(commandLine(mpv!)).toMatch(/--input-ipc-client=fd:\/\/3/);
    victim.proc.noteDescendants();
    process.kill(mpv!, 'SIGKILL');
    const killedAt = nowMs();

    await victim.proc.waitForLine(/mpv died; restarting it and rejoining the timeline/, 5000);
    const back = await cluster.waitFor(
      'the victim playing again with a new mpv',
      (s) => {
        const m = memberNamed(s, 'victim');
        const again = mpvChildOf(victim.proc.pid);
        return m?.playerState === 'playing' && again !== null && again !== mpv ? { m, again } : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(isAlive(mpv!)).toBe(false);
    expect(back.again).not.toBe(mpv);
    // Readings from the new mpv, within ~10 s of the kill, are within the bound; so are the
    // steady member's all along.
    const recovered = nowMs() - killedAt;
    const { convergedAfterMs } = await expectConverged(cluster, [steady, victim], timeline, tracks, { sinceMs: killedAt, withinMs: 10_000, holdMs: 2000, boundMs: BOUND_MS });
    expect(memberNamed(await cluster.status(), 'victim')!.connected).toBe(true);
    console.info(`victim playing again ${recovered.toFixed(0)} ms after its mpv was killed, within ±${BOUND_MS} ms after ${convergedAfterMs.toFixed(0)} ms`);
  });

  it('members keep playing when the leader vanishes; a restarted leader resumes the party: no gap, no hard seek', async () => {
    cluster = new Cluster('syncplay-noleader');
    const leader = await cluster.startLeader();
    const a = await cluster.startMember({ name: 'a' });
    const b = await cluster.startMember({ name: 'b' });
    const { tracks } = await cluster.status();
    const timeline = await cluster.command({ cmd: 'play' });
    await cluster.waitFor('both members playing', (s) => ['a', 'b'].every((n) => memberNamed(s, n)?.playerState === 'playing'), { timeoutMs: 10_000 });
    await sleepUntil(timeline.at + 2000);
    const before = await cluster.status();
    const seeksBefore = Object.fromEntries(['a', 'b'].map((n) => [n, memberNamed(before, n)!.hardSeeks]));

    leader.proc.kill('SIGKILL');
    await leader.proc.exited;
    const goneAt = nowMs();
    await a.proc.waitForLine(/lost the leader .*playing on from the last timeline/, 8000);

    // Telemetry keeps coming, with audio-pts increasing and still on the leader's timeline.
    await sleep(3000);
    for (const m of [a, b]) {
      const rs = m.readings().filter((r) => r.localMs > goneAt + 500);
      expect(rs.length, `${m.name}: readings without a leader`).toBeGreaterThan(15);
      for (let i = 1; i < rs.length; i++) expect(rs[i]!.audioPtsSec).toBeGreaterThan(rs[i - 1]!.audioPtsSec);
      const errors = rs.map((r) => trueErrorMs(r, timeline, tracks));
      expect(errors.every((e) => e !== null && Math.abs(e) <= BOUND_MS), `${m.name}: true errors without a leader ${errors.map((e) => e?.toFixed(2)).join(' ')}`).toBe(true);
    }

    // Restarted on the same port, socket and state dir (as a service manager would), the leader
    // resumes the very timeline the members are playing.
    const again = await cluster.startLeader({ port: leader.port });
    expect(again.port).toBe(leader.port);
    // It listens at once and resumes once its scan has found the same playlist.
    await again.proc.waitForLine(/resuming the party: playing track 1/);
    const rejoined = await cluster.waitFor(
      'both members to rejoin the restarted leader',
      (s) => {
        const ms = ['a', 'b'].map((n) => memberNamed(s, n));
        return ms.every((m) => m?.connected && m.rttMs !== null && m.playerState === 'playing') ? s : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(rejoined.timeline).toEqual(timeline);
    const rejoinedAt = nowMs();
    await sleep(3000);
    const after = await cluster.status();
    for (const m of [a, b]) {
      const view = memberNamed(after, m.name)!;
      expect(view.playerState, describeMember(view)).toBe('playing');
      expect(view.hardSeeks, `${m.name}: hard seeks across the leader restart`).toBe(seeksBefore[m.name]);
      // The sound never stopped: readings every few hundred ms, audio-pts always rising, on the timeline.
      const rs = m.readings().filter((r) => r.localMs > goneAt - 1000);
      for (let i = 1; i < rs.length; i++) {
        expect(rs[i]!.localMs - rs[i - 1]!.localMs, `${m.name}: a gap in the readings`).toBeLessThan(1500);
        expect(rs[i]!.audioPtsSec, `${m.name}: audio-pts went back`).toBeGreaterThan(rs[i - 1]!.audioPtsSec);
      }
      const errors = rs.filter((r) => r.localMs > rejoinedAt).map((r) => trueErrorMs(r, timeline, tracks));
      expect(errors.every((e) => e !== null && Math.abs(e) <= BOUND_MS), `${m.name}: true errors after the restart ${errors.map((e) => e?.toFixed(2)).join(' ')}`).toBe(true);
    }
    console.info(`leader restart: members rejoined ${(rejoinedAt - goneAt).toFixed(0)} ms after the kill, 0 hard seeks, readings continuous`);
  });
});
