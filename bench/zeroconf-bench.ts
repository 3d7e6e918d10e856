/**
 * Zero-config figures: how long a member takes to find its leader, and to pair with it.
 *
 *   node dist/bench/zeroconf-bench.js [--runs 20]      (as root: it builds network namespaces)
 *
 * Discovery runs on a LAN of network namespaces (a bridge, a leader node, a member node; never
 * the host's own network): `syncplay discover --json` is started in the member's namespace once
 * per run and reports the time from its first mDNS question to the first answer. A member
 * decides SETTLE_MS later (it waits for other leaders), so its discovery time is that plus SETTLE_MS.
 * Pairing runs on loopback against a leader with a party secret: each run is one complete
 * pairing (connect, server-hello, SPAKE2 both ways, confirmation, sealed key), timed in-process.
 * Prints p50 / p95 / max of each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import { SETTLE_MS } from '../src/discovery/browse.js';
import { pairWithLeader } from '../src/party/pair-with-leader.js';
import { NetnsLan } from './netns-lan.js';
import { stats, type Stats } from './stats.js';
import { benchArgs, numberOption } from './args.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'syncplay');
const MUSIC = join(ROOT, 'playlists');

const fmt = (s: Stats): string => `p50 ${s.p50?.toFixed(1)} ms, p95 ${s.p95?.toFixed(1)} ms, max ${s.max?.toFixed(1)} ms (n=${s.n})`;

function collect(child: import('node:child_process').ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

/** Everything a child has printed so far, kept from its start. */
function transcript(child: import('node:child_process').ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  return () => text;
}

async function waitForLine(output: () => string, re: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = output().match(re);
    if (m) return m[0];
    if (Date.now() > deadline) throw new Error(`no line matching ${re} within ${timeoutMs} ms:\n${output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function discoveryRuns(runs: number, tmp: string): Promise<Stats> {
  const lan = new NetnsLan(`spzb${process.pid % 10000}`, '10.231.9');
  const leaderNode = lan.addNode();
  const memberNode = lan.addNode();
  const leader = lan.spawn(leaderNode, [process.execPath, BIN, 'leader', '--music-dir', MUSIC, '--host', '0.0.0.0', '--no-ui', '--party-name', 'bench', '--socket', join(tmp, 'd.sock'), '--state-dir', join(tmp, 'd-state')]);
  try {
    await waitForLine(transcript(leader), /announced on the local network/, 30_000);
    const firsts: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await collect(lan.spawn(memberNode, [process.execPath, BIN, 'discover', '--json', '--timeout', '3000']));
      const parsed = JSON.parse(r.out) as { firstAnswerMs: number | null };
      if (parsed.firstAnswerMs === null) throw new Error(`run ${i + 1}: no answer\n${r.err}`);
      firsts.push(parsed.firstAnswerMs);
      process.stderr.write(`discovery ${i + 1}/${runs}: first answer after ${parsed.firstAnswerMs} ms\n`);
    }
    return stats(firsts);
  } finally {
    leader.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    if (leader.exitCode === null) leader.kill('SIGKILL');
    lan.destroy();
  }
}

async function pairingRuns(runs: number, tmp: string): Promise<Stats> {
  const { spawn } = await import('node:child_process');
  const sock = join(tmp, 'p.sock');
  const leader = spawn(process.execPath, [BIN, 'leader', '--music-dir', MUSIC, '--host', '127.0.0.1', '--port', '0', '--no-ui', '--no-advertise', '--socket', sock, '--state-dir', join(tmp, 'p-state')], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const output = transcript(leader);
    const line = await waitForLine(output, /listening on 127\.0\.0\.1:\d+/, 30_000);
    const port = Number(line.split(':').pop());
    await waitForLine(output, /control socket/, 10_000);
    const code = ((await sendControl({ cmd: 'pair' }, sock)).pairing as { code: string }).code;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await pairWithLeader({ host: '127.0.0.1', port, code, name: `bench-${i}`, version: 'bench' });
      times.push(performance.now() - t0);
      process.stderr.write(`pairing ${i + 1}/${runs}: ${times.at(-1)!.toFixed(1)} ms\n`);
    }
    return stats(times);
  } finally {
    leader.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const { values } = benchArgs('node dist/bench/zeroconf-bench.js [options]', {
    runs: { type: 'string', value: 'n', help: 'pairings and discoveries to time (default 20)' },
  });
  const runs = numberOption('--runs', values.runs, 20);
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-zeroconf-bench-'));
  try {
    const pairing = await pairingRuns(runs, tmp);
    const discovery = await discoveryRuns(runs, tmp);
    const decide = { ...discovery, p50: (discovery.p50 ?? 0) + SETTLE_MS, p95: (discovery.p95 ?? 0) + SETTLE_MS, max: (discovery.max ?? 0) + SETTLE_MS };
    process.stdout.write(`pairing (loopback, complete SPAKE2 pairing): ${fmt(pairing)}\n`);
    process.stdout.write(`discovery (namespace LAN, question to first answer): ${fmt(discovery)}\n`);
    process.stdout.write(`member's choice of leader (first answer + ${SETTLE_MS} ms settle): ${fmt(decide)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
