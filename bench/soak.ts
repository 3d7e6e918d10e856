/**
 * Soak: a leader and N members (real mpv, --ao=null) playing the bundled playlist on repeat for a
 * long time, the resident memory (RSS and its anonymous part) of every process sampled at a fixed
 * interval.
 *
 *   node dist/bench/soak.js [--minutes 60] [--warmup-min 10] [--members 3] [--interval-s 10] [--heap] [--out DIR] [--root DIR]
 *
 * The run is a warm-up (`--warmup-min`, excluded from every figure: code is compiled, caches and
 * the collector's heap sizes settle) followed by the measured `--minutes`. Growth is the
 * least-squares slope of memory over the measured window in MB per hour, also over its first and
 * second halves: a leak is a steady slope in both; a heap growing into its headroom flattens.
 * Each process is reported on its own (leader, every member, every member's mpv), RSS and
 * anonymous RSS (heap and buffers, where a leak shows; the rest is mapped code).
 * `--heap` preloads heap-sampler.js into the leader and members: their V8 heap (committed, used,
 * what is left after each full collection, growth of the old generation between full collections) every 10 s, to tell
 * retained memory from headroom. With it the soak also has each of them run one full collection
 * at the start and at the end of the measured window (SIGUSR2 to the sampler) and reports the
 * growth of what survived it — the heap and the RSS after a full collection, end minus start:
 * that is what a house running for days would keep; the RSS slope also counts garbage that V8
 * has not collected yet (it collects the old space when it reaches a limit, not on a clock).
 * Writes DIR/rss.jsonl (one sample line per interval), DIR/status.jsonl (the leader's member
 * table every minute: sync error, hard seeks), DIR/heap-*.jsonl with --heap, and DIR/summary.json.
 * `--root` runs another build (a copied dist/), so rebuilding the worktree cannot touch a soak
 * in progress.
 */
import { existsSync, mkdirSync, mkdtempSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { assertAlive, descendants, killChildrenNow, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import { benchArgs, numberOption } from './args.js';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Args {
  minutes: number;
  warmupMin: number;
  members: number;
  heap: boolean;
  intervalS: number;
  out: string;
  root: string;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = benchArgs('node dist/bench/soak.js [options]', {
    minutes: { type: 'string', value: 'min', help: 'how long to measure after the warm-up (default 60)' },
    'warmup-min': { type: 'string', value: 'min', help: 'warm-up before the measured window, excluded from the figures (default 10)' },
    heap: { type: 'boolean', help: "the leader and members report their V8 heap (heap-sampler.js) into the results" },
    members: { type: 'string', value: 'n', help: 'members to start (default 3)' },
    'interval-s': { type: 'string', value: 's', help: 'seconds between samples (default 10)' },
    out: { type: 'string', value: 'dir', help: 'results directory (default bench/results/soak-<time>)' },
    root: { type: 'string', value: 'dir', help: 'the checkout whose bin/syncplay runs (default this one)' },
  }, { argv });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    minutes: numberOption('--minutes', v.minutes, 60),
    warmupMin: numberOption('--warmup-min', v['warmup-min'], 10, 0),
    members: numberOption('--members', v.members, 3),
    heap: v.heap ?? false,
    intervalS: numberOption('--interval-s', v['interval-s'], 10),
    out: resolve(v.out ?? join(here, 'bench', 'results', `soak-${stamp}`)),
    root: resolve(v.root ?? here),
  };
}

/** Resident set size of a process in kB (VmRSS), or null once it is gone. */
export function rssKb(pid: number): number | null {
  return memoryKb(pid)?.rss ?? null;
}

/** RSS split into anonymous memory (heap, buffers: where a leak shows) and file-backed pages (code). */
export function memoryKb(pid: number): { rss: number; anon: number; file: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? NaN);
    return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
  } catch {
    return null;
  }
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface RssSeries {
  name: string;
  /** seconds since start */
  t: number[];
  /** kB */
  rss: number[];
}

export interface GrowthRow {
  name: string;
  /** MB at the end of the warm-up, at the end, and the peak over the measured window */
  startMb: number;
  endMb: number;
  maxMb: number;
  /** least-squares growth over the measured window, MB per hour */
  mbPerHour: number;
  /** the same over its first and second halves */
  firstHalfMbPerHour: number;
  secondHalfMbPerHour: number;
  /** the same over the last 60 minutes, when the window is longer than that (else null) */
  last60MbPerHour: number | null;
}

/** Growth of one process over the measured window [fromS, toS]: slopes in MB/h, start, end and peak. */
export function growth(series: RssSeries, fromS: number, toS = Infinity): GrowthRow {
  const pts = series.t.map((t, i) => ({ h: t / 3600, mb: series.rss[i]! / 1024, t })).filter((p) => p.t >= fromS && p.t <= toS);
  const fit = (ps: typeof pts): number => slope(ps.map((p) => p.h), ps.map((p) => p.mb));
  const mid = pts.length ? (pts[0]!.t + pts[pts.length - 1]!.t) / 2 : 0;
  return {
    name: series.name,
    startMb: pts[0]?.mb ?? 0,
    endMb: pts[pts.length - 1]?.mb ?? 0,
    maxMb: pts.length ? Math.max(...pts.map((p) => p.mb)) : 0,
    mbPerHour: fit(pts),
    firstHalfMbPerHour: fit(pts.filter((p) => p.t <= mid)),
    secondHalfMbPerHour: fit(pts.filter((p) => p.t >= mid)),
    last60MbPerHour: pts.length && pts[pts.length - 1]!.t - pts[0]!.t > 3600 ? fit(pts.filter((p) => p.t >= pts[pts.length - 1]!.t - 3600)) : null,
  };
}

/** One line of heap-sampler.ts's log. */
interface HeapLine {
  t: number;
  forced?: boolean;
  rssKb: number;
  heapTotalKb: number;
  heapUsedKb: number;
  heapAfterFullGcKb: number | null;
  /** growth of the old generation between full collections so far */
  oldGrownKb?: number;
}

export interface RetainedRow {
  name: string;
  heapStartMb: number;
  heapEndMb: number;
  heapMbPerHour: number;
  rssStartMb: number;
  rssEndMb: number;
  rssMbPerHour: number;
}

/** Growth of what a full collection left, between the one at the start and the one at the end of the window. */
export function retainedGrowth(name: string, start: HeapLine, end: HeapLine): RetainedRow {
  const hours = (end.t - start.t) / 3600;
  const mb = (k: number): number => k / 1024;
  const heapStart = mb(start.heapUsedKb);
  const heapEnd = mb(end.heapUsedKb);
  return {
    name,
    heapStartMb: heapStart,
    heapEndMb: heapEnd,
    heapMbPerHour: hours > 0 ? (heapEnd - heapStart) / hours : 0,
    rssStartMb: mb(start.rssKb),
    rssEndMb: mb(end.rssKb),
    rssMbPerHour: hours > 0 ? (mb(end.rssKb) - mb(start.rssKb)) / hours : 0,
  };
}

/** Each process's heap sampler runs a full collection and logs what is left (a line marked `forced`). */
async function collectAll(children: Child[]): Promise<void> {
  for (const c of children) if (!c.exited) process.kill(c.pid, 'SIGUSR2');
  // A collection of a ~20 MB heap takes tens of ms; the RSS settles as pages are given back.
  await sleep(2000);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  mkdirSync(a.out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'syncplay-soak-'));
  const bin = join(a.root, 'bin', 'syncplay');
  if (!existsSync(join(a.root, 'dist', 'src', 'cli', 'main.js'))) throw new Error(`no build at ${a.root}: run npm run build`);
  const music = join(a.root, 'playlists');
  const socket = join(work, 'leader.sock');
  const rssFile = join(a.out, 'rss.jsonl');
  const statusFile = join(a.out, 'status.jsonl');
  writeFileSync(rssFile, '');
  writeFileSync(statusFile, '');
  process.on('exit', killChildrenNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  // --heap: the leader and members report their own V8 heap (heap-sampler.ts) into the out dir.
  const sampler = join(a.root, 'dist', 'bench', 'heap-sampler.js');
  const heapEnv: NodeJS.ProcessEnv = a.heap ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(sampler).href}`.trim(), SYNCPLAY_HEAP_LOG: a.out } : {};

  // The default party: a secret created in the leader's state dir, which the members are given,
  // so every line both ways is authenticated for the whole run.
  const stateDir = join(work, 'leader-state');
  const spawnedAt = new Map<Child, number>();
  const leader = spawnChild('leader', [bin, 'leader', '--music-dir', music, '--host', '127.0.0.1', '--port', '0', '--repeat', 'all', '--autoplay', '--no-ui', '--no-advertise', '--no-web', '--socket', socket, '--state-dir', stateDir], join(a.out, 'leader.log'), { cwd: work, env: { ...process.env, ...heapEnv, XDG_STATE_HOME: join(work, 'xdg') } });
  spawnedAt.set(leader, Date.now());
  let port = 0;
  for (let i = 0; i < 100 && !port; i++) {
    await sleep(100);
    const m = /listening on [^\s]+:(\d+)/.exec(readFileSync(leader.logPath, 'utf8'));
    if (m) port = Number(m[1]);
    assertAlive([leader]);
  }
  if (!port) throw new Error('the leader did not report its port');
  const members: Child[] = [];
  for (let i = 1; i <= a.members; i++) {
    const dir = join(work, `member-${i}`);
    mkdirSync(dir, { recursive: true });
    const member = spawnChild(`member-${i}`, [bin, 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', music, '--name', `soak-${i}`, '--mpv-arg=--ao=null', '--secret-file', join(stateDir, 'party-secret')], join(a.out, `member-${i}.log`), { cwd: dir, env: { ...process.env, ...heapEnv, XDG_STATE_HOME: join(dir, 'state') } });
    spawnedAt.set(member, Date.now());
    members.push(member);
  }
  const all = [leader, ...members];
  const series = new Map<string, RssSeries>();
  const push = (name: string, t: number, kb: number | null): void => {
    if (kb === null || !Number.isFinite(kb)) return;
    let s = series.get(name);
    if (!s) series.set(name, (s = { name, t: [], rss: [] }));
    s.t.push(t);
    s.rss.push(kb);
  };
  const started = Date.now();
  const warmupS = a.warmupMin * 60;
  const endAt = started + (warmupS + a.minutes * 60) * 1000;
  const meta = { command: `node dist/bench/soak.js --minutes ${a.minutes} --warmup-min ${a.warmupMin} --members ${a.members} --interval-s ${a.intervalS}${a.heap ? ' --heap' : ''}`, root: a.root, startedAt: new Date(started).toISOString(), leaderCommand: leader.command, memberCommand: members[0]?.command };
  writeFileSync(join(a.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  process.stdout.write(`soak: ${a.members} members, ${a.warmupMin} min warm-up then ${a.minutes} min measured, sampling every ${a.intervalS} s into ${a.out}\n`);
  let lastStatus = 0;
  let lastProgress = started;
  let collectedAtStart = !a.heap;
  for (let next = started; Date.now() < endAt; ) {
    assertAlive(all);
    if (!collectedAtStart && Date.now() - started >= warmupS * 1000) {
      collectedAtStart = true;
      await collectAll(all);
    }
    const t = (Date.now() - started) / 1000;
    const sample: Record<string, unknown> = { t, load1: loadavg()[0] };
    const lm = memoryKb(leader.pid);
    sample.leader = lm?.rss ?? null;
    sample['leader-anon'] = lm?.anon ?? null;
    push('leader', t, lm?.rss ?? null);
    push('leader-anon', t, lm?.anon ?? null);
    members.forEach((m, i) => {
      const mm = memoryKb(m.pid);
      sample[`member-${i + 1}`] = mm?.rss ?? null;
      sample[`member-${i + 1}-anon`] = mm?.anon ?? null;
      push(`member-${i + 1}`, t, mm?.rss ?? null);
      push(`member-${i + 1}-anon`, t, mm?.anon ?? null);
      const mpv = descendants(m.pid).find((pid) => /mpv/.test(readFileSync(`/proc/${pid}/comm`, 'utf8')));
      if (mpv !== undefined) {
        const pm = memoryKb(mpv);
        sample[`mpv-${i + 1}`] = pm?.rss ?? null;
        sample[`mpv-${i + 1}-anon`] = pm?.anon ?? null;
        push(`mpv-${i + 1}`, t, pm?.rss ?? null);
        push(`mpv-${i + 1}-anon`, t, pm?.anon ?? null);
      }
    });
    appendFileSync(rssFile, JSON.stringify(sample) + '\n');
    if (Date.now() - lastStatus >= 60_000) {
      lastStatus = Date.now();
      try {
        const reply = await sendControl({ cmd: 'status' }, socket);
        const st = reply.status as { timeline: unknown; members: { name: string; errorMs: number | null; hardSeeks: number; playerState: string; connected: boolean }[] };
        appendFileSync(statusFile, JSON.stringify({ t, timeline: st.timeline, members: st.members.map((m) => ({ name: m.name, connected: m.connected, errorMs: m.errorMs, hardSeeks: m.hardSeeks, playerState: m.playerState })) }) + '\n');
      } catch (e) {
        appendFileSync(statusFile, JSON.stringify({ t, error: (e as Error).message }) + '\n');
      }
    }
    if (Date.now() - lastProgress >= 5 * 60_000) {
      lastProgress = Date.now();
      const cells = [...series.values()].map((s) => `${s.name} ${((s.rss[s.rss.length - 1] ?? 0) / 1024).toFixed(1)}`);
      process.stdout.write(`soak: ${(t / 60).toFixed(0)}/${a.warmupMin + a.minutes} min${t < warmupS ? ' (warm-up)' : ''} — RSS MB: ${cells.join(', ')}\n`);
    }
    next += a.intervalS * 1000;
    await sleep(next - Date.now());
  }
  if (a.heap) await collectAll(all);
  const durationS = (Date.now() - started) / 1000;
  const retained: RetainedRow[] = [];
  if (a.heap) {
    // The processes' own heap figures, on the soak's time axis (each sampler counts from its start).
    all.forEach((c) => {
      const file = join(a.out, `heap-${c === leader ? 'leader' : 'member'}-${c.pid}.jsonl`);
      if (!existsSync(file)) return;
      const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as HeapLine);
      const offsetS = ((spawnedAt.get(c) ?? started) - started) / 1000;
      for (const l of lines) {
        if (l.forced) continue;
        push(`${c.name}-heap-total`, l.t + offsetS, l.heapTotalKb);
        if (l.heapAfterFullGcKb !== null) push(`${c.name}-heap-after-gc`, l.t + offsetS, l.heapAfterFullGcKb);
        if (l.oldGrownKb !== undefined) push(`${c.name}-old-grown`, l.t + offsetS, l.oldGrownKb);
      }
      const forced = lines.filter((l) => l.forced);
      if (forced.length >= 2) retained.push(retainedGrowth(c.name, forced[0]!, forced[forced.length - 1]!));
    });
  }
  const rows = [...series.values()].map((s) => growth(s, warmupS));
  const crashed = all.filter((c) => c.exited).map((c) => c.name);
  const summary = { ...meta, durationS, warmupS, intervalS: a.intervalS, crashed, rows, retained };
  writeFileSync(join(a.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`\ngrowth over the ${((durationS - warmupS) / 60).toFixed(0)} min after a ${a.warmupMin} min warm-up (MB/h: whole, first half, second half, last 60 min)\n`);
  process.stdout.write(`process                start MB  end MB  max MB   whole  1st half  2nd half  last 60\n`);
  for (const r of rows) process.stdout.write(`${r.name.padEnd(22)} ${r.startMb.toFixed(1).padStart(8)} ${r.endMb.toFixed(1).padStart(7)} ${r.maxMb.toFixed(1).padStart(7)} ${r.mbPerHour.toFixed(2).padStart(7)} ${r.firstHalfMbPerHour.toFixed(2).padStart(9)} ${r.secondHalfMbPerHour.toFixed(2).padStart(9)} ${r.last60MbPerHour === null ? '      —' : r.last60MbPerHour.toFixed(2).padStart(8)}\n`);
  if (retained.length) {
    process.stdout.write(`\nafter a full collection at the start and the end of the window (what is kept; MB, MB/h)\n`);
    process.stdout.write(`process      heap start  heap end  heap MB/h   RSS start  RSS end  RSS MB/h\n`);
    for (const r of retained) process.stdout.write(`${r.name.padEnd(12)} ${r.heapStartMb.toFixed(2).padStart(10)} ${r.heapEndMb.toFixed(2).padStart(9)} ${r.heapMbPerHour.toFixed(2).padStart(10)} ${r.rssStartMb.toFixed(1).padStart(11)} ${r.rssEndMb.toFixed(1).padStart(8)} ${r.rssMbPerHour.toFixed(2).padStart(9)}\n`);
  }
  for (const c of [...members].reverse()) await stopChild(c);
  await stopChild(leader);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`soak: ${(e as Error).message}\n`);
    // Exit now: the leader and members still running would keep this process alive (they are
    // stopped on exit).
    process.exit(1);
  });
}
