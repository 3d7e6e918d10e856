import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { raiseThreads } from '../../src/member/priority.js';

/** nice value of a thread from /proc (field 19 of stat, after the parenthesised name) */
function niceOf(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('raiseThreads', () => {
  it('sets the nice value of every thread of a process (lowering it needs no privilege)', async () => {
    // node has several threads (libuv, V8): all of them must move, not just the main one
    const child = spawn(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 20000)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => child.stdout!.once('data', r)); // running JavaScript: its threads exist
      const pid = child.pid!;
      expect(raiseThreads(pid, 7)).toBe(true);
      const { readdirSync } = await import('node:fs');
      const tids = readdirSync(`/proc/${pid}/task`).map(Number);
      expect(tids.length).toBeGreaterThan(1);
      for (const tid of tids) expect(niceOf(pid, tid)).toBe(7);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('says so when a process is gone', () => {
    expect(raiseThreads(2 ** 22 + 12345, 5)).toBe(false);
  });
});
