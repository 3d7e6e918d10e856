/**
 * A real scheduled start: a leader started with `--start-at HH:MM:SS` a few seconds ahead and two
 * real members (mpv --ao=null). The PLAY timeline's instant must be the shared-clock instant of
 * that wall-clock second, and both members must be heard from that instant on: a first reading
 * within 0.5 s of it, every reading from it on within ±50 ms of the timeline, and within ±20 ms
 * within 3 s (the members' own start-up error, typically 0–15 ms late on a busy machine, is then
 * corrected by their speed control).
 *
 * Every process here reads one CLOCK_MONOTONIC, which is the leader's shared clock (no NTP): a
 * telemetry reading's localMs is an instant on it, and so is this process's hrtime.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childPids, cmdline as rawCmdline } from '../../bench/child-processes.js';
import { readTelemetry } from '../../bench/telemetry.js';
import type { LeaderStatus } from '../../src/leader/leader.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'syncplay');
const MUSIC = join(ROOT, 'playlists');
/** every member within this of the timeline once WINDOW_MS have passed since the instant */
const BOUND_MS = 20;
const WINDOW_MS = 3000;
/** from the instant on: playback began then (a start when some timer fired would be far off) */
const START_BOUND_MS = 50;

/** The leader's shared clock: CLOCK_MONOTONIC, as its monotonicMs(). */
function monoMs(): number {
  const ns = process.hrtime.bigint();
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  running = true;
  private readonly mpvPids = new Set<number>();

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        this.lines.push(...parts);
      });
    }
    this.exited = new Promise((resolve) => child.once('exit', () => ((this.running = false), resolve())));
  }

  async waitFor(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const l of this.lines) {
        const m = l.match(re);
        if (m) return m;
      }
      if (!this.running) throw new Error(`${this.label} exited before logging ${re}\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.label}: no line matching ${re} within ${timeoutMs} ms\n${this.tail()}`);
      await sleep(50);
    }
  }

  /** Remembers this process's mpv children, so none outlives the test. */
  noteMpv(): void {
    for (const pid of childPids(this.child.pid!)) if (/mpv/.test(rawCmdline(pid) ?? '')) this.mpvPids.add(pid);
  }

  async stop(): Promise<void> {
    this.noteMpv();
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    for (const pid of this.mpvPids) {
      if (/mpv/.test(rawCmdline(pid) ?? '')) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  tail(n = 30): string {
    return `--- ${this.label} (pid ${this.child.pid}) ---\n${this.lines.slice(-n).join('\n')}`;
  }
}

describe('scheduled start (--start-at)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-schedule-'));
  const procs: Proc[] = [];
  const run = (label: string, args: string[]): Proc => {
    const p = new Proc(label, spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } }));
    procs.push(p);
    return p;
  };
  const status = (): LeaderStatus => {
    const r = spawnSync(process.execPath, [BIN, 'ctl', '--socket', join(tmp, 'l.sock'), 'status', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`ctl status --json failed (${r.status}): ${r.stderr}`);
    return (JSON.parse(r.stdout) as { status: LeaderStatus }).status;
  };
  const logs = (): string => procs.map((p) => p.tail()).join('\n');

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('starts the playlist on every member exactly at the wall-clock second', async () => {
    // A whole wall-clock second 12–13 s ahead, as HH:MM:SS in this machine's zone (the leader's default): the
    // PLAY is issued 5 s before it, so a leader and two members that start slowly on a loaded machine
    // are still read "before" it.
    const targetWall = Math.ceil((Date.now() + 12_000) / 1000) * 1000;
    const d = new Date(targetWall);
    const hhmmss = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');

    const leader = run('leader', ['leader', '--music-dir', MUSIC, '--host', '127.0.0.1', '--port', '0', '--no-ui', '--no-web', '--socket', join(tmp, 'l.sock'), '--state-file', join(tmp, 's.json'), '--start-at', hhmmss, '--open', '--no-advertise']);
    const port = Number((await leader.waitFor(/leader listening on 127\.0\.0\.1:(\d+)/))[1]);
    await leader.waitFor(/control socket /);
    const members = ['s1', 's2'].map((name) => {
      const telemetry = join(tmp, `${name}.jsonl`);
      const proc = run(`member ${name}`, ['member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', MUSIC, '--name', name, '--mpv-arg=--ao=null', '--telemetry', telemetry]);
      return { name, proc, telemetry };
    });

    // Before the start: the status names it, and the log says when.
    await leader.waitFor(/\[schedule\] next start: .* \(in \d+ s\)/);
    const before = status();
    expect(before.schedule.nextStart).toBe(new Date(targetWall).toISOString());
    expect(before.timeline.state).toBe('stopped');

    // The PLAY goes out ahead of the instant (5 s lead), for the shared instant of that second.
    const issued = await leader.waitFor(/scheduled start at .* \(--start-at\): issued for shared instant ([\d.]+)/, 15_000);
    // This process's view of the same mapping: shared (monotonic) now + wall time remaining.
    let expectedAt = Infinity;
    let best = Infinity;
    for (let i = 0; i < 50; i++) {
      const m0 = monoMs();
      const wall = Date.now();
      const m1 = monoMs();
      // Date.now() has 1 ms resolution: take the sample where it ticked over between m0 and m1
      if (m1 - m0 < best) {
        best = m1 - m0;
        expectedAt = (m0 + m1) / 2 + (targetWall - wall);
      }
    }
    const after = status();
    const timeline = after.timeline;
    expect(timeline).toMatchObject({ state: 'playing', trackIndex: 0, positionSec: 0 });
    expect(Number(issued[1])).toBeCloseTo(timeline.at, 0);
    expect(Math.abs(timeline.at - expectedAt), `timeline.at ${timeline.at} vs the shared instant of ${hhmmss}: ${expectedAt}\n${logs()}`).toBeLessThan(5);
    expect(timeline.at - monoMs(), 'issued ahead of the instant').toBeGreaterThan(1000);
    // issued ahead, but still the next start until its instant
    expect(after.schedule.nextStart).toBe(new Date(targetWall).toISOString());

    // Each member plays from that instant: true error of every reading from it on, to 1 s past the window.
    await sleep(timeline.at + WINDOW_MS + 1000 + 400 - monoMs());
    for (const m of members) m.proc.noteMpv();
    const results = members.map((m) => {
      const rs = readTelemetry(m.telemetry).filter((r) => r.localMs >= timeline.at && r.localMs <= timeline.at + WINDOW_MS + 1000);
      const errors = rs.map((r) => ({ ms: r.localMs - timeline.at, track: r.trackIndex, errorMs: (r.audioPtsSec - (r.localMs + r.latencyOffsetMs - timeline.at) / 1000) * 1000 }));
      const maxAbs = (xs: typeof errors): number => Math.max(...xs.map((e) => Math.abs(e.errorMs)));
      const worst = maxAbs(errors);
      const settled = errors.filter((e) => e.ms >= WINDOW_MS);
      const worstSettled = maxAbs(settled);
      const line =
        `${m.name}: ${rs.length} readings, first ${errors[0]?.ms.toFixed(0)} ms after the instant, max |true error| ${worst.toFixed(2)} ms, ` +
        `${worstSettled.toFixed(2)} ms from ${WINDOW_MS} ms on (ms after the instant:error ms ${errors.map((e) => `${e.ms.toFixed(0)}:${e.errorMs.toFixed(1)}`).join(' ')})`;
      return { m, errors, worst, settled, worstSettled, line };
    });
    const report = results.map((r) => r.line).join('\n');
    console.info(`scheduled start at ${hhmmss} (shared ${timeline.at.toFixed(1)}, expected ${expectedAt.toFixed(1)}):\n${report}`);
    for (const { m, errors, worst, settled, worstSettled } of results) {
      const detail = `${report}\n${logs()}`;
      expect(errors.filter((e) => e.ms < WINDOW_MS).length, `${m.name}: too few readings in the first ${WINDOW_MS} ms\n${detail}`).toBeGreaterThanOrEqual(10);
      expect(settled.length, `${m.name}: no readings after ${WINDOW_MS} ms\n${detail}`).toBeGreaterThanOrEqual(3);
      expect(errors[0]!.ms, `${m.name}: playback not heard from the instant on\n${detail}`).toBeLessThan(500);
      expect(errors.every((e) => e.track === 0), detail).toBe(true);
      expect(worst, `${m.name}: not playing from the instant\n${detail}`).toBeLessThanOrEqual(START_BOUND_MS);
      expect(worstSettled, `${m.name}: not within ±${BOUND_MS} ms ${WINDOW_MS} ms after the instant\n${detail}`).toBeLessThanOrEqual(BOUND_MS);
    }
    await leader.waitFor(/\[schedule\] no further scheduled start/);
    expect(status().schedule.nextStart).toBeNull();
  });
});
