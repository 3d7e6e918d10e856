/**
 * Big-library benchmark: a leader on a generated library (make-library.ts), timed from spawn to
 * listening and to a fully scanned playlist, cold (fresh scan cache; page cache dropped when run
 * as root) and warm (the cache of the cold run), repeated; its CPU time and peak RSS; the size
 * and time of `ctl status --json` (summary) and `--tracks`.
 *
 * Usage: node dist/bench/library-bench.js --count 10000 [--runs 3] [--dir DIR] [--keep]
 * Prints one line per run and the medians; the library is deleted afterwards unless --keep.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { makeLibrary } from './make-library.js';
import { median as medianOf } from './stats.js';
import { benchArgs, numberOption } from './args.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'syncplay');

interface Run {
  kind: 'cold' | 'warm';
  listeningMs: number;
  scannedMs: number;
  cpuSec: number;
  peakRssMiB: number;
  statusBytes: number;
  statusMs: number;
  tracksBytes: number;
  tracksMs: number;
}

function dropPageCache(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

/** utime + stime of a process, seconds (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function runLeader(kind: Run['kind'], music: string, work: string, cacheHome: string): Promise<Run> {
  const socket = path.join(work, `leader-${kind}-${Date.now()}.sock`);
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'leader', '--music-dir', music, '--host', '127.0.0.1', '--port', '0', '--socket', socket, '--no-ui', '--open', '--no-advertise', '--no-web', '--state-dir', path.join(work, 'state')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, XDG_STATE_HOME: path.join(work, 'xdg-state'), NO_COLOR: '1' },
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    let listeningMs = NaN;
    for (;;) {
      if (Number.isNaN(listeningMs) && /leader listening on/.test(log)) listeningMs = performance.now() - t0;
      if (!Number.isNaN(listeningMs)) {
        const r = await sendControl({ cmd: 'status' }, socket).catch(() => null);
        const st = r?.status as { playlist?: { count: number } } | undefined;
        if (st?.playlist && st.playlist.count > 0) break;
      }
      if (child.exitCode !== null) throw new Error(`leader exited:\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const scannedMs = performance.now() - t0;
    let s = performance.now();
    const summary = await sendControl({ cmd: 'status' }, socket);
    const statusMs = performance.now() - s;
    s = performance.now();
    const full = await sendControl({ cmd: 'status', tracks: true }, socket, 30_000);
    const tracksMs = performance.now() - s;
    return {
      kind,
      listeningMs,
      scannedMs,
      cpuSec: cpuSeconds(child.pid!),
      peakRssMiB: peakRssMiB(child.pid!),
      statusBytes: Buffer.byteLength(JSON.stringify(summary)),
      statusMs,
      tracksBytes: Buffer.byteLength(JSON.stringify(full)),
      tracksMs,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (xs: number[]): number => medianOf(xs) ?? NaN;

async function main(): Promise<void> {
  const { values: v } = benchArgs('node dist/bench/library-bench.js [options]', {
    count: { type: 'string', value: 'n', help: 'files in the generated library (default 10000)' },
    runs: { type: 'string', value: 'n', help: 'cold + warm scans (default 3)' },
    dir: { type: 'string', value: 'dir', help: 'work directory (default: a temporary one)' },
    keep: { type: 'boolean', help: 'keep the work directory' },
  });
  const count = numberOption('--count', v.count, 10_000);
  const runs = numberOption('--runs', v.runs, 3);
  const work = v.dir ?? mkdtempSync(path.join(tmpdir(), 'syncplay-libbench-'));
  const music = path.join(work, 'music');
  const t = performance.now();
  const lib = makeLibrary(music, { count, seed: 7, minSec: count > 20_000 ? 4 : 8, maxSec: count > 20_000 ? 8 : 30 });
  process.stdout.write(`library: ${lib.files} files (${lib.bigFiles} over 3 MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s at ${music}\n`);
  const results: Run[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const cacheHome = path.join(work, `cache-${i}`);
      const dropped = dropPageCache();
      const cold = await runLeader('cold', music, work, cacheHome);
      results.push(cold);
      const warm = await runLeader('warm', music, work, cacheHome);
      results.push(warm);
      for (const r of [cold, warm]) {
        process.stdout.write(`${r.kind}${r.kind === 'cold' && !dropped ? ' (page cache not dropped: not root)' : ''}: listening ${r.listeningMs.toFixed(0)} ms, scanned ${(r.scannedMs / 1000).toFixed(2)} s, cpu ${r.cpuSec.toFixed(1)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, status ${r.statusBytes} B in ${r.statusMs.toFixed(0)} ms, --tracks ${(r.tracksBytes / 1e6).toFixed(1)} MB in ${r.tracksMs.toFixed(0)} ms\n`);
      }
    }
    for (const kind of ['cold', 'warm'] as const) {
      const rs = results.filter((r) => r.kind === kind);
      process.stdout.write(`median of ${rs.length} ${kind}: listening ${median(rs.map((r) => r.listeningMs)).toFixed(0)} ms, scanned ${(median(rs.map((r) => r.scannedMs)) / 1000).toFixed(2)} s, cpu ${median(rs.map((r) => r.cpuSec)).toFixed(1)} s, peak RSS ${median(rs.map((r) => r.peakRssMiB)).toFixed(0)} MiB, status ${median(rs.map((r) => r.statusBytes)).toFixed(0)} B in ${median(rs.map((r) => r.statusMs)).toFixed(0)} ms, --tracks ${(median(rs.map((r) => r.tracksBytes)) / 1e6).toFixed(1)} MB in ${median(rs.map((r) => r.tracksMs)).toFixed(0)} ms\n`);
    }
  } finally {
    if (!v.keep) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
