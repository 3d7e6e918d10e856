/**
 * Big-library benchmark on a generated library (make-library.ts), cold and warm, repeated:
 *
 * - leader: time from spawn to listening and to a fully scanned playlist, CPU time until then,
 *   peak RSS over the whole run (scan, serving the playlist to a member, playing); the size and
 *   time of `ctl status --json` (summary) and `--tracks`; the playlist's bytes on the wire
 *   (the welcome carries only { version, count, digest }; the tracks travel in pages);
 * - member (a real one, mpv --ao=null, its own scan cache): with the party already playing
 *   the middle track, time from spawn to its first sync reading (taken while it plays: an upper
 *   bound of its first sound, within one 100 ms sync tick) and to every file checked; its CPU and
 *   peak RSS;
 * - the terminal UI (warm only): time from spawn to its first frame, in a real pseudo-terminal.
 *
 * Cold: fresh scan caches (leader's and member's) and, when run as root, the page cache dropped
 * before the leader and again before the member (a member on another machine has its files cold).
 * Warm: the caches of the cold run, the page cache as it is.
 *
 * Usage: node dist/bench/library-bench.js --count 10000 [--runs 3] [--dir DIR] [--keep] [--no-member] [--no-ui]
 *   --dir DIR reuses DIR/music when it is there.
 * Prints one line per run and the medians; what it generated is deleted afterwards unless --keep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import type { LeaderStatus } from '../src/leader/leader.js';
import { PlaylistPages } from '../src/protocol/playlist-pages.js';
import type { Track } from '../src/protocol/index.js';
import { benchArgs, numberOption } from './args.js';
import { sleep, stopProcess } from './child-processes.js';
import { makeLibrary } from './make-library.js';
import { median as medianOf } from './stats.js';
import { cpuSeconds, loadAverage, peakRssMiB } from './proc-stats.js';
import { Terminal } from './terminal.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'syncplay');

interface LeaderRun {
  listeningMs: number;
  scannedMs: number;
  cpuSec: number;
  peakRssMiB: number;
  statusBytes: number;
  statusMs: number;
  tracksBytes: number;
  tracksMs: number;
}

interface MemberRun {
  /** where the time to first sound goes: the member's first log line (node up), joined, "starting track" (arming) */
  upMs: number;
  joinedMs: number;
  armingMs: number;
  firstSoundMs: number;
  checkedMs: number;
  cpuSec: number;
  peakRssMiB: number;
}

interface Run {
  kind: 'cold' | 'warm';
  leader: LeaderRun;
  member: MemberRun | null;
  uiFirstFrameMs: number | null;
  load: string;
}


function dropPageCache(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

function childEnv(cacheHome: string, work: string): NodeJS.ProcessEnv {
  return { ...process.env, XDG_CACHE_HOME: cacheHome, XDG_STATE_HOME: path.join(work, 'xdg-state'), NO_COLOR: '1' };
}

function leaderArgs(music: string, work: string, socket: string): string[] {
  return [BIN, 'leader', '--music-dir', music, '--host', '127.0.0.1', '--port', '0', '--socket', socket, '--open', '--no-advertise', '--no-web', '--state-dir', path.join(work, 'state'), '--state-file', path.join(work, `members-${Date.now()}.json`)];
}

const stop = (child: ChildProcess): Promise<void> => stopProcess(child, 10_000);

async function status(socket: string, timeoutMs = 5000): Promise<LeaderStatus | null> {
  const r = await sendControl({ cmd: 'status' }, socket, timeoutMs).catch(() => null);
  return r?.ok ? (r.status as LeaderStatus) : null;
}

/** A leader, started and scanned; left running (playing) for the member. */
async function startLeader(music: string, work: string, cacheHome: string): Promise<{ run: LeaderRun; child: ChildProcess; socket: string; port: number; tracks: Track[] }> {
  const socket = path.join(work, `leader-${Date.now()}.sock`);
  const t0 = performance.now();
  const child = spawn(process.execPath, [...leaderArgs(music, work, socket), '--no-ui'], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(cacheHome, work) });
  let log = '';
  let listeningMs = NaN;
  const onData = (d: Buffer): void => {
    log += d.toString();
    if (Number.isNaN(listeningMs) && /leader listening on/.test(log)) listeningMs = performance.now() - t0;
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  try {
    for (;;) {
      if (!Number.isNaN(listeningMs)) {
        const st = await status(socket);
        if (st?.playlist && st.playlist.count > 0) break;
      }
      if (child.exitCode !== null) throw new Error(`leader exited:\n${log.slice(-2000)}`);
      await sleep(50);
    }
    const scannedMs = performance.now() - t0;
    const cpuSec = cpuSeconds(child.pid!);
    let s = performance.now();
    const summary = await sendControl({ cmd: 'status' }, socket);
    const statusMs = performance.now() - s;
    s = performance.now();
    const full = await sendControl({ cmd: 'status', tracks: true }, socket, 60_000);
    const tracksMs = performance.now() - s;
    const st = full.status as LeaderStatus;
    return {
      run: { listeningMs, scannedMs, cpuSec, peakRssMiB: NaN, statusBytes: Buffer.byteLength(JSON.stringify(summary)), statusMs, tracksBytes: Buffer.byteLength(JSON.stringify(full)), tracksMs },
      child,
      socket,
      port: st.listening.port,
      tracks: st.tracks as Track[],
    };
  } catch (e) {
    await stop(child);
    throw e;
  }
}

/** A member joining a playing party: time to its first sync reading and to every file checked. */
async function runMember(music: string, work: string, cacheHome: string, leader: { socket: string; port: number }, name: string): Promise<MemberRun> {
  const telemetry = path.join(work, `${name}.telemetry.jsonl`);
  rmSync(telemetry, { force: true });
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'member', '--ip', '127.0.0.1', '--port', String(leader.port), '--music-dir', music, '--name', name, '--mpv-arg=--ao=null', '--no-fetch', '--telemetry', telemetry, '--state-dir', path.join(work, `${name}-state`)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(cacheHome, work),
  });
  let log = '';
  const marks = { upMs: NaN, joinedMs: NaN, armingMs: NaN };
  const onData = (d: Buffer): void => {
    const at = performance.now() - t0;
    const text = d.toString();
    if (Number.isNaN(marks.upMs)) marks.upMs = at;
    if (Number.isNaN(marks.joinedMs) && /joined leader/.test(text)) marks.joinedMs = at;
    if (Number.isNaN(marks.armingMs) && /starting track/.test(text)) marks.armingMs = at;
    log += text;
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  try {
    let firstSoundMs = NaN;
    let checkedMs = NaN;
    let lastCheck = 0;
    while (Number.isNaN(firstSoundMs) || Number.isNaN(checkedMs)) {
      if (child.exitCode !== null) throw new Error(`member exited:\n${log.slice(-2000)}`);
      if (performance.now() - t0 > 30 * 60_000) throw new Error(`member not playing and checked after 30 min:\n${log.slice(-2000)}`);
      if (Number.isNaN(firstSoundMs) && existsSync(telemetry) && statSync(telemetry).size > 0) firstSoundMs = performance.now() - t0;
      if (Number.isNaN(checkedMs) && performance.now() - lastCheck > 250) {
        lastCheck = performance.now();
        const m = (await status(leader.socket))?.members.find((v) => v.name === name && v.connected);
        if (m && m.filesTotal !== null && m.filesTotal > 0 && m.filesChecked === m.filesTotal) checkedMs = performance.now() - t0;
      }
      await sleep(20);
    }
    return { ...marks, firstSoundMs, checkedMs, cpuSec: cpuSeconds(child.pid!), peakRssMiB: peakRssMiB(child.pid!) };
  } finally {
    await stop(child);
  }
}

/** Spawn to the first frame of the terminal UI, in a pseudo-terminal of 120 × 40. */
async function uiFirstFrame(music: string, work: string, cacheHome: string): Promise<number> {
  const socket = path.join(work, `ui-${Date.now()}.sock`);
  const env: NodeJS.ProcessEnv = { ...childEnv(cacheHome, work), TERM: 'xterm-256color' };
  delete env.NO_COLOR;
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  const t0 = performance.now();
  const term = new Terminal([process.execPath, ...leaderArgs(music, work, socket)], { cols: 120, rows: 40, env });
  try {
    return (await term.waitFor(/syncplay leader/, 0, 60_000)) - t0;
  } finally {
    await term.stop();
  }
}

async function runOnce(kind: Run['kind'], music: string, work: string, i: number, withMember: boolean, withUi: boolean): Promise<Run> {
  const cacheHome = path.join(work, `cache-${i}`);
  const memberCache = path.join(work, `member-cache-${i}`);
  if (kind === 'cold') {
    rmSync(cacheHome, { recursive: true, force: true });
    rmSync(memberCache, { recursive: true, force: true });
    dropPageCache();
  }
  const load = loadAverage();
  const l = await startLeader(music, work, cacheHome);
  let member: MemberRun | null = null;
  try {
    // The party plays from the middle of the playlist: the member's current track is not its first file.
    await sendControl({ cmd: 'play', track: Math.floor(l.tracks.length / 2) + 1 }, l.socket);
    if (withMember) {
      if (kind === 'cold') dropPageCache();
      member = await runMember(music, work, memberCache, l, `member-${i}`);
    }
    l.run.peakRssMiB = peakRssMiB(l.child.pid!);
  } finally {
    await stop(l.child);
  }
  const uiFirstFrameMs = withUi && kind === 'warm' ? await uiFirstFrame(music, work, cacheHome) : null;
  return { kind, leader: l.run, member, uiFirstFrameMs, load };
}

function pagesReport(tracks: Track[]): string {
  const pages = new PlaylistPages(1, tracks);
  let bytes = 0;
  let lines = 0;
  let largest = 0;
  for (let b = 0; b < pages.blockCount; b++) {
    for (const line of pages.lines(b)) {
      const n = Buffer.byteLength(line);
      bytes += n;
      lines++;
      largest = Math.max(largest, n);
    }
  }
  const welcome = Buffer.byteLength(JSON.stringify({ type: 'welcome', memberId: 'm1', playlist: pages.info }));
  return `playlist on the wire: welcome ~${welcome} B (version, count, digest), ${lines} page lines, ${(bytes / 1e6).toFixed(2)} MB in all (${(bytes / tracks.length).toFixed(0)} B a track), largest line ${(largest / 1024).toFixed(1)} KiB`;
}

const median = (xs: number[]): number => medianOf(xs.filter((x) => Number.isFinite(x))) ?? NaN;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function describe(r: Pick<Run, 'leader' | 'member' | 'uiFirstFrameMs'>): string {
  const l = r.leader;
  const parts = [
    `leader: listening ${l.listeningMs.toFixed(0)} ms, scanned ${sec(l.scannedMs)}, cpu ${l.cpuSec.toFixed(1)} s, peak RSS ${l.peakRssMiB.toFixed(0)} MiB, status ${l.statusBytes} B in ${l.statusMs.toFixed(0)} ms, --tracks ${(l.tracksBytes / 1e6).toFixed(1)} MB in ${l.tracksMs.toFixed(0)} ms`,
  ];
  if (r.member) parts.push(`member: first sound ${sec(r.member.firstSoundMs)} (up ${sec(r.member.upMs)}, joined ${sec(r.member.joinedMs)}, arming ${sec(r.member.armingMs)}), checked ${sec(r.member.checkedMs)}, cpu ${r.member.cpuSec.toFixed(1)} s, peak RSS ${r.member.peakRssMiB.toFixed(0)} MiB`);
  if (r.uiFirstFrameMs !== null) parts.push(`UI first frame ${r.uiFirstFrameMs.toFixed(0)} ms`);
  return parts.join('; ');
}

async function main(): Promise<void> {
  const { values: v } = benchArgs('node dist/bench/library-bench.js [options]', {
    count: { type: 'string', value: 'n', help: 'files in the generated library (default 10000)' },
    runs: { type: 'string', value: 'n', help: 'cold + warm rounds (default 3)' },
    dir: { type: 'string', value: 'dir', help: 'work directory; DIR/music is reused when it is there (default: a temporary one)' },
    keep: { type: 'boolean', help: 'keep what was generated' },
    'no-member': { type: 'boolean', help: 'leader only' },
    'no-ui': { type: 'boolean', help: 'skip the terminal UI first frame' },
  });
  const count = numberOption('--count', v.count, 10_000);
  const runs = numberOption('--runs', v.runs, 3);
  const withMember = !v['no-member'];
  const withUi = !v['no-ui'];
  const work = v.dir ?? mkdtempSync(path.join(tmpdir(), 'syncplay-libbench-'));
  mkdirSync(work, { recursive: true });
  const music = path.join(work, 'music');
  const made = !existsSync(music);
  if (made) {
    const t = performance.now();
    const lib = makeLibrary(music, { count, seed: 7, minSec: count > 20_000 ? 4 : 8, maxSec: count > 20_000 ? 8 : 30 });
    process.stdout.write(`library: ${lib.files} files (${lib.bigFiles} over 3 MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s at ${music}\n`);
  }
  const root = dropPageCache();
  if (!root) process.stdout.write('not root: the page cache is not dropped, "cold" means a fresh scan cache only\n');
  const results: Run[] = [];
  let tracks: Track[] | null = null;
  try {
    for (let i = 0; i < runs; i++) {
      for (const kind of ['cold', 'warm'] as const) {
        const r = await runOnce(kind, music, work, i, withMember, withUi);
        results.push(r);
        process.stdout.write(`run ${i + 1} ${kind} (load ${r.load}): ${describe(r)}\n`);
        if (!tracks) {
          const l = await startLeader(music, work, path.join(work, `cache-${i}`));
          tracks = l.tracks;
          await stop(l.child);
          process.stdout.write(pagesReport(tracks) + '\n');
        }
      }
    }
    for (const kind of ['cold', 'warm'] as const) {
      const rs = results.filter((r) => r.kind === kind);
      const lm = (f: (l: LeaderRun) => number): number => median(rs.map((r) => f(r.leader)));
      const mm = (f: (m: MemberRun) => number): number => median(rs.flatMap((r) => (r.member ? [f(r.member)] : [])));
      const m: Pick<Run, 'leader' | 'member' | 'uiFirstFrameMs'> = {
        leader: { listeningMs: lm((l) => l.listeningMs), scannedMs: lm((l) => l.scannedMs), cpuSec: lm((l) => l.cpuSec), peakRssMiB: lm((l) => l.peakRssMiB), statusBytes: lm((l) => l.statusBytes), statusMs: lm((l) => l.statusMs), tracksBytes: lm((l) => l.tracksBytes), tracksMs: lm((l) => l.tracksMs) },
        member: withMember ? { upMs: mm((x) => x.upMs), joinedMs: mm((x) => x.joinedMs), armingMs: mm((x) => x.armingMs), firstSoundMs: mm((x) => x.firstSoundMs), checkedMs: mm((x) => x.checkedMs), cpuSec: mm((x) => x.cpuSec), peakRssMiB: mm((x) => x.peakRssMiB) } : null,
        uiFirstFrameMs: kind === 'warm' && withUi ? median(rs.map((r) => r.uiFirstFrameMs ?? NaN)) : null,
      };
      process.stdout.write(`median of ${rs.length} ${kind}: ${describe(m)}\n`);
    }
  } finally {
    if (!v.keep) {
      if (made) rmSync(work, { recursive: true, force: true });
      else for (let i = 0; i < runs; i++) for (const d of [`cache-${i}`, `member-cache-${i}`]) rmSync(path.join(work, d), { recursive: true, force: true });
    }
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
