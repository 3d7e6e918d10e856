/**
 * Terminal UI benchmark: the leader's Ink UI in a real pseudo-terminal (bench/terminal.ts) on a
 * generated library (make-library.ts), against the same leader headless (--no-ui).
 *
 * 1. UI, cold scan cache: time from spawn to the first frame (the plain one drawn before Ink has
 *    loaded), to the first frame with the scan's progress, and to the panel's first frame; key-to-frame latency while it scans ('?' opens the help, any key closes it:
 *    the time until the changed frame arrives on the terminal).
 * 2. When the playlist is in, a real member (mpv --ao=null) joins and the party plays; after
 *    SETTLE_SEC, the leader's CPU share over --seconds (from /proc/<pid>/stat), and key-to-frame
 *    latency while playing ('r' cycles repeat; the frame shows the new mode).
 * 3. The same leader headless (warm cache), same member, same play: its CPU share over --seconds.
 *
 * Usage: node dist/bench/ui-bench.js [--count 10000] [--seconds 60] [--presses 20] [--dir DIR] [--keep]
 *   --dir DIR reuses DIR/music when it is there (make it once with make-library.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import type { LeaderStatus } from '../src/leader/leader.js';
import { benchArgs, numberOption } from './args.js';
import { sleep, stopProcess } from './child-processes.js';
import { makeLibrary } from './make-library.js';
import { cpuSeconds, loadAverage } from './proc-stats.js';
import { stats, type Stats } from './stats.js';
import { Terminal } from './terminal.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'syncplay');
const COLS = 120;
const ROWS = 40;
/** playing this long before the CPU is measured (the member's start, the first corrections) */
const SETTLE_SEC = 5;

const fmt = (q: Stats): string => `p50 ${q.p50?.toFixed(0)} / p95 ${q.p95?.toFixed(0)} / max ${q.max?.toFixed(0)} ms`;

async function status(socket: string): Promise<LeaderStatus | null> {
  const r = await sendControl({ cmd: 'status' }, socket, 3000).catch(() => null);
  return r?.ok ? (r.status as LeaderStatus) : null;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Setup {
  music: string;
  work: string;
  cacheHome: string;
}

function leaderArgs(s: Setup, socket: string, ui: boolean): string[] {
  return [process.execPath, BIN, 'leader', '--music-dir', s.music, '--host', '127.0.0.1', '--port', '0', '--socket', socket, '--open', '--no-advertise', '--no-web', '--state-dir', path.join(s.work, 'state'), ...(ui ? [] : ['--no-ui'])];
}

function env(s: Setup): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: s.cacheHome, XDG_STATE_HOME: path.join(s.work, 'xdg-state'), TERM: 'xterm-256color' };
  // The leader runs headless under CI; this is a terminal.
  delete e.CI;
  delete e.CONTINUOUS_INTEGRATION;
  delete e.NO_COLOR;
  return e;
}

function startMember(s: Setup, port: number): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', s.music, '--name', 'bench-member', '--mpv-arg=--ao=null', '--no-fetch', '--state-dir', path.join(s.work, 'member-state')], {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...env(s), NO_COLOR: '1' },
  });
  return child;
}

const stopMember = (m: ChildProcess): Promise<void> => stopProcess(m, 5000);

/** Starts the party on the member and waits until it plays. */
async function playWithMember(s: Setup, socket: string): Promise<ChildProcess> {
  const st = await until('the leader to answer', () => status(socket), 30_000);
  const member = startMember(s, st.listening.port);
  await until('the member to join', async () => (await status(socket))?.members.some((m) => m.connected && m.rttMs !== null), 60_000);
  await sendControl({ cmd: 'play' }, socket);
  await until('the member to play', async () => (await status(socket))?.members.some((m) => m.playerState === 'playing'), 60_000);
  return member;
}

/** Key-to-frame latencies: each press, the time until the frame it causes is on the terminal. */
async function pressLatencies(term: Terminal, presses: { key: string; shows: RegExp }[]): Promise<number[]> {
  const out: number[] = [];
  for (const p of presses) {
    const from = term.output.length;
    const sent = term.type(p.key);
    const drawn = await term.waitFor(p.shows, from, 10_000);
    out.push(drawn - sent);
    // Presses land at random phases of the UI's own refresh.
    await sleep(150 + Math.random() * 250);
  }
  return out;
}

async function main(): Promise<void> {
  const { values: v } = benchArgs('node dist/bench/ui-bench.js [options]', {
    count: { type: 'string', value: 'n', help: 'files in the generated library (default 10000)' },
    seconds: { type: 'string', value: 's', help: 'CPU measured over this long while playing (default 60)' },
    presses: { type: 'string', value: 'n', help: 'key presses timed while scanning and while playing (default 20)' },
    dir: { type: 'string', value: 'dir', help: 'work directory; DIR/music is reused when it is there (default: a temporary one)' },
    keep: { type: 'boolean', help: 'keep what was generated' },
  });
  const count = numberOption('--count', v.count, 10_000);
  const seconds = numberOption('--seconds', v.seconds, 60);
  const presses = numberOption('--presses', v.presses, 20);
  const work = v.dir ?? mkdtempSync(path.join(tmpdir(), 'syncplay-uibench-'));
  mkdirSync(work, { recursive: true });
  const music = path.join(work, 'music');
  if (!existsSync(music)) {
    const t = performance.now();
    const lib = makeLibrary(music, { count, seed: 7, minSec: count > 20_000 ? 4 : 8, maxSec: count > 20_000 ? 8 : 30 });
    process.stdout.write(`library: ${lib.files} files in ${((performance.now() - t) / 1000).toFixed(1)} s at ${music}\n`);
  }
  const s: Setup = { music, work, cacheHome: path.join(work, `cache-${Date.now()}`) };
  const report: string[] = [];
  const say = (line: string): void => {
    report.push(line);
    process.stdout.write(line + '\n');
  };
  try {
    // 1 + 2: the UI, from a cold scan cache.
    const socket = path.join(work, 'ui.sock');
    const t0 = performance.now();
    const term = new Terminal(leaderArgs(s, socket, true), { cols: COLS, rows: ROWS, env: env(s) });
    let member: ChildProcess | null = null;
    try {
      // The first frame is the plain one (first-frame.ts) drawn before Ink loads; the panel's
      // own header ends in "? help" (keys work from then on).
      const firstFrame = (await term.waitFor(/syncplay leader/, 0, 30_000)) - t0;
      const scanWidget = (await term.waitFor(/── Scan [^\n]*\r?\n[^\n]*(listing|reading)/, 0, 5_000).catch(() => NaN)) - t0;
      const panel = (await term.waitFor(/syncplay leader[^\n]*\? help/, 0, 30_000)) - t0;
      say(`UI first frame ${firstFrame.toFixed(0)} ms after spawn; the scan's progress in a frame at ${Number.isNaN(scanWidget) ? 'never (none within 5 s)' : `${scanWidget.toFixed(0)} ms`}; the panel (Ink) at ${panel.toFixed(0)} ms (load ${loadAverage()})`);
      const scanning = await status(socket);
      const whileScanning = scanning?.scan && scanning.scan.phase !== 'done';
      if (whileScanning) {
        const keys: { key: string; shows: RegExp }[] = [];
        for (let i = 0; i < Math.max(2, presses / 2); i++) keys.push({ key: '?', shows: /Colours/ }, { key: 'x', shows: /Now playing/ });
        const lat = await pressLatencies(term, keys);
        const after = await status(socket);
        say(`keys while scanning (${lat.length} presses, scan ${scanning.scan!.done}→${after?.scan?.done ?? '?'} of ${scanning.scan!.total}): ${fmt(stats(lat))} (load ${loadAverage()})`);
      } else say('the scan was over before the keys could be tried during it');
      const scanned = await until('the scan to end', async () => ((await status(socket))?.playlist.count ?? 0) > 0, 600_000);
      void scanned;
      say(`scanned in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      member = await playWithMember(s, socket);
      await sleep(SETTLE_SEC * 1000);
      const pid = term.programPid()!;
      const c0 = cpuSeconds(pid);
      const w0 = performance.now();
      const bytes0 = term.output.length;
      await sleep(seconds * 1000);
      const uiCpu = (cpuSeconds(pid) - c0) / ((performance.now() - w0) / 1000);
      const drawn = (term.output.length - bytes0) / ((performance.now() - w0) / 1000);
      say(`UI while playing: leader CPU ${(uiCpu * 100).toFixed(2)} % of a core over ${seconds} s, terminal output ${(drawn / 1024).toFixed(1)} KiB/s (load ${loadAverage()})`);
      const modes = ['all', 'one', 'off'];
      const rKeys = Array.from({ length: presses }, (_, i) => ({ key: 'r', shows: new RegExp(`repeat ${modes[i % 3]}`) }));
      const lat = await pressLatencies(term, rKeys);
      say(`keys while playing (${lat.length} presses of r): ${fmt(stats(lat))} (load ${loadAverage()})`);
    } finally {
      if (member) await stopMember(member);
      await term.stop();
    }

    // 3: headless, warm cache.
    const socket2 = path.join(work, 'headless.sock');
    const term2 = new Terminal(leaderArgs(s, socket2, false), { cols: COLS, rows: ROWS, env: env(s) });
    let member2: ChildProcess | null = null;
    try {
      await until('the headless leader to scan', async () => ((await status(socket2))?.playlist.count ?? 0) > 0, 600_000);
      member2 = await playWithMember(s, socket2);
      await sleep(SETTLE_SEC * 1000);
      const pid = term2.programPid()!;
      const c0 = cpuSeconds(pid);
      const w0 = performance.now();
      await sleep(seconds * 1000);
      const cpu = (cpuSeconds(pid) - c0) / ((performance.now() - w0) / 1000);
      say(`headless while playing: leader CPU ${(cpu * 100).toFixed(2)} % of a core over ${seconds} s (load ${loadAverage()})`);
    } finally {
      if (member2) await stopMember(member2);
      await term2.stop();
    }
  } finally {
    if (!v.keep) rmSync(v.dir ? s.cacheHome : work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
