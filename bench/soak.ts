/**
 * Soak: a leader and N members (real mpv, --ao=null) playing the bundled playlist on repeat for a
 * long time, the resident memory (RSS) of every process sampled at a fixed interval.
 *
 *   node dist/bench/soak.js [--minutes 60] [--members 3] [--interval-s 10] [--out DIR] [--root DIR]
 *
 * Writes DIR/rss.jsonl (one sample line per interval), DIR/status.jsonl (the leader's member
 * table every minute: sync error, hard seeks) and DIR/summary.json. The growth figure is the
 * least-squares slope of RSS over time after a warm-up (the first 10 % of the run, at least
 * 2 minutes), in MB per hour: a leak shows as a steady slope, a one-off allocation does not.
 * `--root` runs another build (a copied dist/), so rebuilding the worktree cannot touch a soak
 * in progress.
 */
import { existsSync, mkdirSync, mkdtempSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { assertAlive, descendants, killChildrenNow, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import { benchArgs, numberOption } from './args.js';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Args {
  minutes: number;
  members: number;
  intervalS: number;
  out: string;
  root: string;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = benchArgs('node dist/bench/soak.js [options]', {
    minutes: { type: 'string', value: 'min', help: 'how long to run (default 60)' },
    members: { type: 'string', value: 'n', help: 'members to start (default 3)' },
    'interval-s': { type: 'string', value: 's', help: 'seconds between samples (default 10)' },
    out: { type: 'string', value: 'dir', help: 'results directory (default bench/results/soak-<time>)' },
    root: { type: 'string', value: 'dir', help: 'the checkout whose bin/syncplay runs (default this one)' },
  }, { argv });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    minutes: numberOption('--minutes', v.minutes, 60),
    members: numberOption('--members', v.members, 3),
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
  startMb: number;
  endMb: number;
  maxMb: number;
  /** least-squares growth after the warm-up, MB per hour */
  mbPerHour: number;
}

/** Growth per process after `warmupS`: slope in MB/h, plus start, end and peak. */
export function growth(series: RssSeries, warmupS: number): GrowthRow {
  const xs: number[] = [];
  const ys: number[] = [];
  series.t.forEach((t, i) => {
    if (t >= warmupS) {
      xs.push(t / 3600);
      ys.push(series.rss[i]! / 1024);
    }
  });
  const mb = series.rss.map((k) => k / 1024);
  return {
    name: series.name,
    startMb: ys[0] ?? mb[0] ?? 0,
    endMb: mb[mb.length - 1] ?? 0,
    maxMb: mb.length ? Math.max(...mb) : 0,
    mbPerHour: slope(xs, ys),
  };
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

  // The default party: a secret created in the leader's state dir, which the members are given,
  // so every line both ways is authenticated for the whole run.
  const stateDir = join(work, 'leader-state');
  const leader = spawnChild('leader', [bin, 'leader', '--music-dir', music, '--host', '127.0.0.1', '--port', '0', '--repeat', 'all', '--autoplay', '--no-ui', '--no-advertise', '--socket', socket, '--state-dir', stateDir], join(a.out, 'leader.log'), { cwd: work, env: { ...process.env, XDG_STATE_HOME: join(work, 'xdg') } });
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
    members.push(spawnChild(`member-${i}`, [bin, 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', music, '--name', `soak-${i}`, '--mpv-arg=--ao=null', '--secret-file', join(stateDir, 'party-secret')], join(a.out, `member-${i}.log`), { cwd: dir, env: { ...process.env, XDG_STATE_HOME: join(dir, 'state') } }));
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
  const endAt = started + a.minutes * 60_000;
  const meta = { command: `node dist/bench/soak.js --minutes ${a.minutes} --members ${a.members} --interval-s ${a.intervalS}`, root: a.root, startedAt: new Date(started).toISOString(), leaderCommand: leader.command, memberCommand: members[0]?.command };
  writeFileSync(join(a.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  process.stdout.write(`soak: ${a.members} members for ${a.minutes} min, sampling every ${a.intervalS} s into ${a.out}\n`);
  let lastStatus = 0;
  let lastProgress = started;
  for (let next = started; Date.now() < endAt; ) {
    assertAlive(all);
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
        const kb = rssKb(mpv);
        sample[`mpv-${i + 1}`] = kb;
        push(`mpv-${i + 1}`, t, kb);
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
      process.stdout.write(`soak: ${(t / 60).toFixed(0)}/${a.minutes} min — RSS MB: ${cells.join(', ')}\n`);
    }
    next += a.intervalS * 1000;
    await sleep(next - Date.now());
  }
  const durationS = (Date.now() - started) / 1000;
  const warmupS = Math.max(120, durationS * 0.1);
  const rows = [...series.values()].map((s) => growth(s, warmupS));
  const crashed = all.filter((c) => c.exited).map((c) => c.name);
  const summary = { ...meta, durationS, warmupS, intervalS: a.intervalS, crashed, rows };
  writeFileSync(join(a.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`\nprocess      start MB  end MB  max MB  growth MB/h (after ${(warmupS / 60).toFixed(0)} min warm-up)\n`);
  for (const r of rows) process.stdout.write(`${r.name.padEnd(12)} ${r.startMb.toFixed(1).padStart(8)} ${r.endMb.toFixed(1).padStart(7)} ${r.maxMb.toFixed(1).padStart(7)} ${r.mbPerHour.toFixed(2).padStart(8)}\n`);
  for (const c of [...members].reverse()) await stopChild(c);
  await stopChild(leader);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`soak: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
