/**
 * What one broadcast costs the leader per member, part by part, over real loopback sockets.
 *
 * This process accepts `--members` TCP connections from a child process (which only reads and
 * discards) and sends one timeline line to every one of them, round after round, each way below
 * in turn (so a change in the machine's load hits every way alike). Per way and round: CPU time
 * (user and kernel, getrusage) and wall time, divided by the members. Ways:
 *   - broadcast (batched): the product's path, sendToAll over authenticated connections (tags in
 *     batches of 32, then the writes: src/protocol/broadcast.ts);
 *   - alternated: the same connections, tag then write member by member (sendLine);
 *   - tags only: LineAuth.seal for every member in a row, nothing written;
 *   - write untagged: socket.write of the line (Node's stream layer and the syscall);
 *   - raw write: one write(2) per socket straight on its file descriptor (fs.writeSync), nothing
 *     of Node's stream layer: the syscall's floor. On loopback it includes the receiver's TCP,
 *     which the kernel runs in the sender's system call (softirq), and its wake-up.
 */
import { fork } from 'node:child_process';
import { writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, numberOption } from './args.js';
import { percentile, ascending } from './stats.js';
import { JsonLineConnection, LineAuth, memberToLeader, sendToAll, sessionKeys, type LeaderMessage, type MemberMessage } from '../src/protocol/index.js';
import { sharedMs } from '../src/clock/time.js';

if (process.argv[2] === 'receiver') {
  const [port, count] = [Number(process.argv[3]), Number(process.argv[4])];
  let open = 0;
  for (let i = 0; i < count; i++) {
    const s = connect(port, '127.0.0.1', () => {
      if (++open === count) process.send?.('ready');
    });
    s.on('data', () => {});
    s.on('error', () => {});
  }
  process.on('message', () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = benchArgs('node dist/bench/broadcast-cost.js [options]', {
    members: { type: 'string', value: 'n', help: 'loopback connections (default 1000)' },
    rounds: { type: 'string', value: 'r', help: 'rounds of every way (default 100)' },
  });
  const members = numberOption('--members', values.members, 1000);
  const rounds = numberOption('--rounds', values.rounds, 100);
  const load0 = loadavg();

  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const child = fork(fileURLToPath(import.meta.url), ['receiver', String(port), String(members)], { stdio: 'inherit' });
  await new Promise((resolve) => child.once('message', resolve));
  while (sockets.length < members) await new Promise((r) => setTimeout(r, 10));

  const conns = sockets.map((s, i) => {
    const c = new JsonLineConnection<MemberMessage, LeaderMessage>(s, memberToLeader, { onMessage: () => {}, onBadInput: () => {}, onClose: () => {} });
    c.authenticate(new LineAuth(sessionKeys('bench-secret', `leader-${i}`, `member-${i}`, 'leader')));
    return c;
  });
  const tagOnly = sockets.map((_, i) => new LineAuth(sessionKeys('bench-secret', `leader-${i}`, `member-${i}`, 'leader')));
  // The file descriptor is not public API; only this measurement of the bare syscall reads it.
  const fds = sockets.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
  const message: LeaderMessage = { type: 'timeline', timeline: { seq: 123, state: 'playing', trackIndex: 4, positionSec: 81.25, at: sharedMs(1764489600123.456), repeat: 'all', playlistVersion: 3 } };
  const line = JSON.stringify(message) + '\n';
  const bytes = Buffer.from(line);

  const ways: Record<string, () => void> = {
    'broadcast (batched: the product)': () => void sendToAll(conns, line),
    'alternated: tag, write, next member': () => conns.forEach((c) => c.sendLine(line)),
    'tags only (LineAuth.seal in a row)': () => tagOnly.forEach((a) => a.seal(line.slice(0, -1))),
    'write untagged (socket.write)': () => sockets.forEach((s) => s.write(line)),
    'raw write(2) untagged (fs.writeSync)': () => fds.forEach((fd) => writeSync(fd, bytes)),
  };
  const got = Object.fromEntries(Object.keys(ways).map((k) => [k, { user: [] as number[], sys: [] as number[], cpu: [] as number[], wall: [] as number[] }]));
  process.stderr.write(`broadcast-cost: ${members} members, ${rounds} rounds, a ${line.length}-byte line, load ${load0.map((l) => l.toFixed(2)).join(' ')}\n`);
  for (let r = 0; r < rounds; r++) {
    for (const [name, way] of Object.entries(ways)) {
      await new Promise((resolve) => setTimeout(resolve, 30)); // the receivers drain
      const cpu = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      way();
      const wallNs = Number(process.hrtime.bigint() - t0);
      const used = process.cpuUsage(cpu);
      const g = got[name]!;
      g.user.push((used.user * 1000) / members);
      g.sys.push((used.system * 1000) / members);
      g.cpu.push(((used.user + used.system) * 1000) / members);
      g.wall.push(wallNs / members);
    }
  }
  const load1 = loadavg();
  const f = (v: number[], p: number): string => (percentile(ascending(v), p) ?? NaN).toFixed(0);
  const out = [
    `\`node dist/bench/broadcast-cost.js --members ${members} --rounds ${rounds}\` (load ${load0[0]!.toFixed(2)} → ${load1[0]!.toFixed(2)}; a ${line.length}-byte timeline line; ns per member per round: median, and p25 for CPU)`,
    '',
    '| way | CPU p50 (p25) | of which user / kernel p50 | wall p50 |',
    '|---|---|---|---|',
    ...Object.entries(got).map(([name, g]) => `| ${name} | ${f(g.cpu, 50)} (${f(g.cpu, 25)}) | ${f(g.user, 50)} / ${f(g.sys, 50)} | ${f(g.wall, 50)} |`),
  ];
  process.stdout.write(out.join('\n') + '\n');
  child.send('exit');
  server.close();
  process.exit(0);
}
