/**
 * A member is known by its device, not only its name: a device that comes back while the leader
 * still holds its old connection (a Pi that dropped off Wi-Fi and restarted) replaces its own
 * stale session at once and keeps its volume and latency offset; another device asking for the
 * name is told so; a member that goes silent is marked lost within a few heartbeats.
 * Real leader, members and mpv (--ao=null); SIGSTOP stands in for a dropped link (the TCP
 * connection stays open, nothing more arrives).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, describeMember, memberNamed, nowMs } from './harness.js';

describe('returning member', () => {
  let cluster: Cluster;
  afterEach(() => cluster?.cleanup());

  it('replaces its stale session and keeps its settings; a stranger cannot take the name; silence is marked lost', async () => {
    cluster = new Cluster('syncplay-return');
    // Long enough for a restarted member to come back before its old session is seen to be dead.
    const leader = await cluster.startLeader({ args: ['--lost-after', '12000'] });
    const first = await cluster.startMember({ name: 'kitchen' });
    await cluster.ctl({ cmd: 'volume', member: 'kitchen', volume: 40 });
    await cluster.ctl({ cmd: 'offset', member: 'kitchen', ms: 25 });
    await first.proc.waitForLine(/latency offset 25 ms/, 10_000);

    // The Pi drops off: its process is frozen, its connection left open.
    first.proc.noteDescendants();
    first.proc.kill('SIGSTOP');
    const droppedAt = nowMs();
    // It comes back (restarted, same device: same state dir) before the leader has noticed.
    const again = await cluster.startMember({ name: 'kitchen', waitJoined: false });
    await again.proc.waitForLine(/latency offset 25 ms/, 15_000);
    const back = nowMs() - droppedAt;
    let s = await cluster.status();
    const kitchens = s.members.filter((m) => m.name.startsWith('kitchen'));
    expect(kitchens.map((m) => `${m.name} ${m.connected}`)).toEqual(['kitchen true']);
    expect(kitchens[0]).toMatchObject({ volume: 40, latencyOffsetMs: 25 });
    expect(leader.proc.output, leader.proc.output.split("\n").filter((l) => l.includes("kitchen")).join("\n")).toMatch(/the same device reconnected: replaced by its new session/);
    console.info(`returning member: restarted and given its settings ${back.toFixed(0)} ms after the drop, settings kept (volume 40, offset 25 ms)`);

    // Another device (its own state dir) asking for the name is refused, and told why.
    const stranger = await cluster.startMember({ name: 'kitchen', stateHome: join(cluster.tmp, 'other-device'), waitJoined: false });
    await stranger.proc.waitForLine(/a different device is already called "kitchen"/, 15_000);
    s = await cluster.status();
    expect(s.members.filter((m) => m.name.startsWith('kitchen')).map((m) => m.connected)).toEqual([true]);
    await stranger.proc.stop();

    // Silence: the leader marks the member lost within a few heartbeats, not minutes.
    again.proc.noteDescendants();
    again.proc.kill('SIGSTOP');
    const silentAt = nowMs();
    const lost = await cluster.waitFor('the silent member to be marked lost', (st) => {
      const m = memberNamed(st, 'kitchen');
      return m && !m.connected ? m : undefined;
    }, { timeoutMs: 20_000 });
    const lostAfter = nowMs() - silentAt;
    expect(lostAfter, describeMember(lost)).toBeLessThan(12_000 + 4000);
    console.info(`silent member marked lost after ${lostAfter.toFixed(0)} ms`);
    for (const p of [first.proc, again.proc]) p.kill('SIGKILL');
  });
});
