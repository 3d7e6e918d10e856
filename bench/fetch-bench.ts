/**
 * Fetch benchmark: while two members (a, b) play the bundled playlist in sync, a third (c) joins
 * lacking one 100 MB playlist file and fetches it from the leader. Measures the fetch throughput,
 * the leader's CPU while it serves, and the sync error of a and b (and their spread) during the
 * fetch, against a control round in which c joins holding every file (same join, no fetch).
 *
 *   node dist/bench/fetch-bench.js [--runs 3] [--rates 2M,0] [--size-mb 100] [--out DIR]
 *
 * Rounds, interleaved per run: control (c has the file), then one per --rates value (the leader's
 * --serve-rate; 0 = unlimited). Sync error = each reading's audio-pts against the leader's timeline
 * at its instant (every process here reads the same CLOCK_MONOTONIC, so this is the true error, not
 * the member's own estimate); spread = per 250 ms bin where a and b both have readings, max − min
 * of their errors. Leader CPU = its utime + stime over the fetch (from /proc), as % of one core.
 * Writes DIR/summary.json and prints a table.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import type { LeaderStatus } from '../src/leader/leader.js';
import type { Timeline, Track } from '../src/protocol/index.js';
import { encodeWav } from '../src/audio/wav.js';
import { killChildrenNow, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import { seededRandom } from './seeded-random.js';
import { benchArgs, numberOption } from './args.js';
import { formatStats, stats, type Stats } from './stats.js';
import { readTelemetry, trueErrorMs, type TelemetryLine } from './telemetry.js';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLED = ['01-morning-drift.ogg', '02-harbour-lights.ogg', '03-paper-lanterns.ogg'];

interface Args {
  runs: number;
  rates: string[];
  sizeMb: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = benchArgs('node dist/bench/fetch-bench.js [options]', {
    runs: { type: 'string', value: 'n', help: 'rounds of each kind, interleaved (default 3)' },
    rates: { type: 'string', value: 'r,…', help: "the leader's --serve-rate per fetch round, 0 = unlimited (default 2M,0)" },
    'size-mb': { type: 'string', value: 'MB', help: 'size of the file to fetch (default 100)' },
    out: { type: 'string', value: 'dir', help: 'results directory (default bench/results/fetch-<time>)' },
  }, { argv });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    runs: numberOption('--runs', v.runs, 3),
    rates: (v.rates ?? '2M,0').split(',').filter(Boolean),
    sizeMb: numberOption('--size-mb', v['size-mb'], 100),
    out: resolve(v.out ?? join(here, 'bench', 'results', `fetch-${stamp}`)),
  };
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A WAV file of `bytes` (44.1 kHz mono 16-bit, quiet seeded noise), written in pieces. */
function writeBigWav(path: string, bytes: number): void {
  const dataBytes = bytes - 44;
  const header = encodeWav(new Float32Array(0), 44_100, 1).subarray(0, 44);
  header.writeUInt32LE(36 + dataBytes, 4);
  header.writeUInt32LE(dataBytes, 40);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    const rand = seededRandom(11);
    const block = Buffer.alloc(1 << 20);
    for (let left = dataBytes; left > 0; left -= block.length) {
      for (let i = 0; i + 1 < block.length; i += 2) block.writeInt16LE(Math.round((rand() - 0.5) * 600), i);
      writeSync(fd, block, 0, Math.min(left, block.length));
    }
  } finally {
    closeSync(fd);
  }
}

/** True errors of the readings in [from, to] where the timeline plays the reading's track. */
function trueErrors(rs: TelemetryLine[], timeline: Timeline, tracks: readonly Track[], from: number, to: number): { t: number; e: number }[] {
  const out: { t: number; e: number }[] = [];
  for (const r of rs) {
    if (r.localMs < from || r.localMs > to) continue;
    const e = trueErrorMs(r, timeline, tracks);
    if (e !== null) out.push({ t: r.localMs, e });
  }
  return out;
}

/** Per 250 ms bin with readings of every member: max − min of their mean errors in the bin. */
function spread(series: { t: number; e: number }[][]): number[] {
  const bins = series.map((s) => {
    const m = new Map<number, number[]>();
    for (const { t, e } of s) {
      const k = Math.floor(t / 250);
      m.set(k, [...(m.get(k) ?? []), e]);
    }
    return m;
  });
  const out: number[] = [];
  for (const k of bins[0]?.keys() ?? []) {
    const means = bins.map((b) => b.get(k)).filter((v): v is number[] => v !== undefined).map((v) => v.reduce((x, y) => x + y, 0) / v.length);
    if (means.length === series.length) out.push(Math.max(...means) - Math.min(...means));
  }
  return out;
}

/** Seconds from the member's "fetching track" line to its "fetched track … verified" line. */
function fetchDurationSec(log: string): number | null {
  const at = (re: RegExp): number | null => {
    const m = re.exec(log);
    if (!m) return null;
    const [h, mi, sec] = m[1]!.split(':').map(Number);
    return (h! * 3600 + mi! * 60 + sec!) * 1000;
  };
  const start = at(/^(\d\d:\d\d:\d\d\.\d{3}) INFO\s+fetching track \d+ "big\.wav"/m);
  const end = at(/^(\d\d:\d\d:\d\d\.\d{3}) INFO\s+fetched track \d+ "big\.wav".*verified/m);
  if (start === null || end === null) return null;
  return ((end - start + 86_400_000) % 86_400_000) / 1000;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15), clock ticks (100 Hz)
}

interface RoundResult {
  round: string;
  run: number;
  fetchSec: number | null;
  throughputMBps: number | null;
  leaderCpuPct: number;
  windowSec: number;
  others: { a: Stats; b: Stats; spread: Stats };
  fetcher: Stats;
  loadavg1: number;
}

async function round(label: string, rate: string | null, run: number, dirs: { leader: string; full: string; partial: string }, bigBytes: number, out: string): Promise<RoundResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-fetch-bench-'));
  const socket = join(tmp, 'leader.sock');
  const env = { ...process.env, XDG_STATE_HOME: join(tmp, 'state'), XDG_CACHE_HOME: join(tmp, 'cache'), NO_COLOR: '1' };
  const bin = join(here, 'bin', 'syncplay');
  const kids: Child[] = [];
  const start = (name: string, args: string[]): Child => {
    const c = spawnChild(name, [bin, ...args], join(out, `${label}-run${run}-${name}.log`), { cwd: here, env });
    kids.push(c);
    return c;
  };
  try {
    const leader = start('leader', ['leader', '--music-dir', dirs.leader, '--host', '127.0.0.1', '--port', '0', '--socket', socket, '--no-ui', '--no-advertise', '--no-web', '--open', '--repeat', 'all', ...(rate !== null ? ['--serve-rate', rate] : [])]);
    let port = 0;
    for (let i = 0; i < 100 && !port; i++) {
      await sleep(200);
      const m = /leader listening on 127\.0\.0\.1:(\d+)/.exec(readFileSync(leader.logPath, 'utf8'));
      if (m) port = Number(m[1]);
    }
    if (!port) throw new Error('leader did not start');
    const status = async (): Promise<LeaderStatus> => (await sendControl({ cmd: 'status', tracks: true }, socket)).status as LeaderStatus;
    const member = (name: string, dir: string): Child =>
      start(name, ['member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', dir, '--name', name, '--mpv-arg=--ao=null', '--telemetry', join(tmp, `${name}.jsonl`)]);
    const waitFor = async <T>(what: string, check: (s: LeaderStatus) => T | undefined, timeoutMs = 60_000): Promise<T> => {
      const deadline = nowMs() + timeoutMs;
      for (;;) {
        const v = check(await status());
        if (v) return v;
        if (nowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(200);
      }
    };
    member('a', dirs.full);
    member('b', dirs.full);
    await waitFor('a and b joined', (s) => s.members.filter((m) => m.connected && m.rttMs !== null).length === 2 || undefined);
    const play = (await sendControl({ cmd: 'play' }, socket)).timeline as Timeline;
    const { tracks } = await status();
    await sleep(8000); // a and b settle
    const c = member('c', rate === null ? dirs.full : dirs.partial);
    const joinedAt = nowMs();
    const cpu0 = cpuTicks(leader.pid);
    let fetchSec: number | null = null;
    if (rate !== null) {
      await waitFor('c to have every file', (s) => (s.members.find((m) => m.name === 'c')?.fileStatus === 'ok' ? true : undefined), 900_000);
      fetchSec = fetchDurationSec(readFileSync(c.logPath, 'utf8'));
    } else {
      await waitFor('c joined and checked', (s) => (s.members.find((m) => m.name === 'c')?.fileStatus === 'ok' ? true : undefined));
      await sleep(8000);
    }
    const fetchEnd = nowMs();
    const cpu1 = cpuTicks(leader.pid);
    const from = joinedAt;
    const to = fetchEnd;
    await sleep(500);
    const ea = trueErrors(readTelemetry(join(tmp, 'a.jsonl')), play, tracks, from, to);
    const eb = trueErrors(readTelemetry(join(tmp, 'b.jsonl')), play, tracks, from, to);
    const ec = trueErrors(readTelemetry(join(tmp, 'c.jsonl')), play, tracks, from, to);
    return {
      round: label,
      run,
      fetchSec,
      throughputMBps: fetchSec ? bigBytes / 1e6 / fetchSec : null,
      leaderCpuPct: ((cpu1 - cpu0) / 100 / ((to - joinedAt) / 1000)) * 100,
      windowSec: (to - from) / 1000,
      others: { a: stats(ea.map((x) => Math.abs(x.e))), b: stats(eb.map((x) => Math.abs(x.e))), spread: stats(spread([ea, eb])) },
      fetcher: stats(ec.map((x) => Math.abs(x.e))),
      loadavg1: loadavg()[0]!,
    };
  } finally {
    for (const k of kids.reverse()) await stopChild(k);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const music = mkdtempSync(join(tmpdir(), 'syncplay-fetch-music-'));
  const dirs = { leader: join(music, 'leader'), full: join(music, 'full'), partial: join(music, 'partial') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const bigBytes = Math.round(args.sizeMb * 1e6);
  process.stderr.write(`writing a ${args.sizeMb} MB WAV file…\n`);
  writeBigWav(join(dirs.leader, 'big.wav'), bigBytes);
  copyFileSync(join(dirs.leader, 'big.wav'), join(dirs.full, 'big.wav'));
  const m3u = ['#EXTM3U', ...BUNDLED, 'big.wav'].join('\n') + '\n';
  for (const d of Object.values(dirs)) {
    for (const f of BUNDLED) copyFileSync(join(here, 'playlists', f), join(d, f));
    writeFileSync(join(d, 'party.m3u8'), m3u);
  }
  const results: RoundResult[] = [];
  const onSignal = (): void => {
    killChildrenNow();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (let run = 1; run <= args.runs; run++) {
      for (const rate of [null, ...args.rates]) {
        const label = rate === null ? 'control' : `rate-${rate === '0' ? 'unlimited' : rate}`;
        process.stderr.write(`run ${run}/${args.runs}: ${label}…\n`);
        const r = await round(label, rate, run, dirs, bigBytes, args.out);
        results.push(r);
        process.stderr.write(`  ${fmtRow(r)}\n`);
      }
    }
  } finally {
    rmSync(music, { recursive: true, force: true });
  }
  writeFileSync(join(args.out, 'summary.json'), JSON.stringify({ args, results }, null, 2));
  process.stdout.write(`\n${['round', 'run', 'fetch s', 'MB/s', 'leader CPU %', 'window s', 'a |err| p50/p95/max ms', 'b |err| p50/p95/max ms', 'a–b spread p50/p95/max ms', 'c |err| p50/p95/max ms', 'load'].join('\t')}\n`);
  for (const r of results) process.stdout.write(`${fmtRow(r)}\n`);
  process.stdout.write(`\nresults in ${args.out}\n`);
}

const f = (d: Stats): string => (d.n ? formatStats(d, 2) : '—');
function fmtRow(r: RoundResult): string {
  return [r.round, r.run, r.fetchSec?.toFixed(1) ?? '—', r.throughputMBps?.toFixed(2) ?? '—', r.leaderCpuPct.toFixed(1), r.windowSec.toFixed(1), f(r.others.a), f(r.others.b), f(r.others.spread), f(r.fetcher), r.loadavg1.toFixed(2)].join('\t');
}

main().catch((e) => {
  killChildrenNow();
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
