/**
 * The processes that keep time run above normal priority where they may: the leader (its wake-up is
 * inside every time exchange; it writes each command to every member in one loop), the member and
 * its mpv. Without the privilege each carries on at the priority it was started with. Real leader,
 * member and mpv (--ao=null).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { SYNC_NICE } from '../../src/member/priority.js';
import { Cluster, memberNamed, mpvChildOf } from './harness.js';

/** The nice value of every thread of a process, from /proc (field 19 of stat). */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

/** Whether this test process may lower a nice value (root or CAP_SYS_NICE): tried on itself and undone. */
function mayRaise(): boolean {
  const own = getPriority();
  try {
    setPriority(own - 1);
    setPriority(own);
    return true;
  } catch {
    return false;
  }
}

describe('scheduling priority', () => {
  let cluster: Cluster;
  afterEach(() => cluster?.cleanup());

  it('leader, member and mpv run every thread at nice −10 when permitted, else as started', async () => {
    const expected = mayRaise() ? SYNC_NICE : getPriority();
    cluster = new Cluster('syncplay-priority');
    const leader = await cluster.startLeader();
    const member = await cluster.startMember({ name: 'den' });
    await cluster.command({ cmd: 'play' });
    await cluster.waitFor('the member playing', (s) => memberNamed(s, 'den')?.playerState === 'playing', { timeoutMs: 15_000 });
    const mpv = mpvChildOf(member.proc.child.pid!);
    expect(mpv).not.toBeNull();
    for (const [name, pid] of [['leader', leader.proc.child.pid!], ['member', member.proc.child.pid!], ['mpv', mpv!]] as const) {
      const nices = threadNices(pid);
      expect(nices.length, name).toBeGreaterThan(1);
      expect(new Set(nices), `${name}'s threads`).toEqual(new Set([expected]));
    }
  });
});
