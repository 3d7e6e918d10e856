/**
 * Fault and abuse suite: a real leader (default secure party) and a real member (mpv --ao=null)
 * playing, while this bench attacks the leader over TCP and kills or freezes processes. After
 * every scenario it checks that the leader still runs, that the member still plays without a
 * hard seek, and records the leader's peak RSS during the scenario.
 *
 *   node dist/bench/abuse.js [--lines 100000] [--restarts 3] [--partition-s 30] [--out DIR]
 *
 * Scenarios: fuzz before joining and after joining (lines tagged with the session key, so they
 * reach the parser), idle and dripping connection floods from another address (with a newcomer
 * joining meanwhile), joined clients that flood time requests and never read, absurd values,
 * untagged lines injected into an authenticated connection, kill -9 and restart of the leader,
 * SIGSTOP of the leader and of the member, a partition between the leader and a second member
 * (through impair-proxy.ts, nothing crossing either way), kill -9 of mpv. Writes DIR/abuse.json and prints the
 * table (scenario → figure → held).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import type { LeaderStatus } from '../src/leader/leader.js';
import { LineAuth, PROTOCOL_VERSION, leaderProof, memberProof, sessionKeys } from '../src/protocol/index.js';
import { ImpairProxy } from './impair-proxy.js';
import { formatStats, stats } from './stats.js';
import { readTelemetry, trueErrorMs } from './telemetry.js';
import { descendants, killChildrenNow, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import { seededRandom } from './seeded-random.js';
import { benchArgs, numberOption } from './args.js';
import { memoryKb } from './soak.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'syncplay');
const music = join(root, 'playlists');

interface Row {
  scenario: string;
  figure: string;
  held: boolean;
  leaderPeakMb: number;
  detail?: Record<string, unknown>;
}

/** A raw client speaking the wire protocol, optionally proving the secret and tagging its lines. */
class RawClient {
  readonly lines: Record<string, unknown>[] = [];
  closed = false;
  private buf = '';
  private auth: LineAuth | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket, private readonly secret: string | null) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        let line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (this.auth) line = this.auth.open(line) ?? line;
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.lines.push({ type: '(unparsed)' });
        }
        if (this.lines.length > 2000) this.lines.splice(0, 1000);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static connect(port: number, secret: string | null, localAddress?: string): Promise<RawClient> {
    return new Promise((res, rej) => {
      const s = createConnection({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }, () => res(new RawClient(s, secret)));
      s.once('error', rej);
    });
  }

  async next(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown> | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(pred);
      if (found) return found;
      if (this.closed || Date.now() > end) return null;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Handshake as a member named `name`; true once welcomed. */
  async join(name: string, deviceId?: string): Promise<boolean> {
    const hello = (await this.next((m) => m.type === 'server-hello')) as { nonce: string } | null;
    if (!hello) return false;
    const clientNonce = `bench${Math.random().toString(16).slice(2)}`;
    const proof = this.secret ? memberProof(this.secret, hello.nonce, name) : undefined;
    this.writeRaw(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, name, clientNonce, version: 'abuse-bench', ...(deviceId ? { deviceId } : {}), ...(proof ? { proof } : {}) }));
    if (this.secret) this.auth = new LineAuth(sessionKeys(this.secret, hello.nonce, clientNonce, 'member'));
    const welcome = await this.next((m) => m.type === 'welcome' || m.type === 'error');
    if (welcome?.type !== 'welcome') return false;
    return !this.secret || welcome.leaderProof === leaderProof(this.secret, clientNonce);
  }

  /** Sends a line as the protocol would (tagged once joined with a secret). */
  write(line: string): boolean {
    return this.writeRaw(this.auth ? this.auth.seal(line) : line);
  }

  writeRaw(line: string): boolean {
    if (this.closed) return false;
    return this.socket.write(line + '\n');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Fuzz lines: random bytes, truncated or mutated messages, absurd numbers, deep nesting. */
function fuzzLines(seed: number): () => string {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const templates: Record<string, unknown>[] = [
    { type: 'hello', protocol: 1, name: 'x', clientNonce: 'n', version: 'v' },
    { type: 'time-req', id: 1, t1: 1 },
    { type: 'status', clockOffsetMs: 0, rttMs: 0.2, clockSkewPpm: 0, errorMs: 0, speed: 1, trackIndex: 0, playerState: 'playing', fileStatus: 'ok', fileProblems: [], latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0 },
    { type: 'list-members', requestId: 1 },
    { type: 'calibrate-play', requestId: 2, member: 'real', at: 1, signal: { kind: 'sweep', f0: 100, f1: 1000, durationSec: 1, sampleRate: 48000, amplitude: 1, fadeSec: 0.1 } },
    { type: 'set-offset', requestId: 3, member: 'real', latencyOffsetMs: 9000 },
    { type: 'error', code: 'x', message: 'y' },
  ];
  const weird: unknown[] = [1e308, -1e308, -1e300, 1e15, -1, 0, 2 ** 53 + 1, 'NaN', 'Infinity', null, true, [], {}, '\u001b[2J\u001b]0;x\u0007', 'a'.repeat(3000), [[[[[]]]]], { type: 'hello' }, '\u202e'];
  const randomBytes = (): string => {
    const n = Math.floor(rnd() * 200);
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = Math.floor(rnd() * 256);
      if (c !== 10) s += String.fromCharCode(c);
    }
    return s;
  };
  return () => {
    const r = rnd();
    if (r < 0.15) return randomBytes();
    if (r < 0.2) return '['.repeat(1 + Math.floor(rnd() * 7000));
    const m: Record<string, unknown> = structuredClone(pick(templates));
    const keys = Object.keys(m);
    const edits = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < edits; i++) {
      const k = pick(keys);
      const e = rnd();
      if (e < 0.2) delete m[k];
      else if (e < 0.9) m[k] = pick(weird);
      else m[`extra${i}`] = pick(weird);
    }
    const line = JSON.stringify(m);
    return rnd() < 0.15 ? line.slice(0, Math.floor(rnd() * line.length)) : line;
  };
}

async function main(): Promise<void> {
  const { values: v } = benchArgs('node dist/bench/abuse.js [options]', {
    lines: { type: 'string', value: 'n', help: 'hostile lines to send (default 100000)' },
    restarts: { type: 'string', value: 'n', help: 'leader restarts (default 3)' },
    'partition-s': { type: 'string', value: 's', help: 'how long a second member is cut off from the leader (default 30)' },
    out: { type: 'string', value: 'dir', help: 'results directory (default bench/results/abuse-<time>)' },
  });
  const totalLines = numberOption('--lines', v.lines, 100_000);
  const restarts = numberOption('--restarts', v.restarts, 3, 0);
  const partitionS = numberOption('--partition-s', v['partition-s'], 30);
  const out = resolve(v.out ?? join(root, 'bench', 'results', `abuse-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'syncplay-abuse-'));
  const stateDir = join(work, 'leader-state');
  const socketPath = join(work, 'leader.sock');
  const telemetry = join(work, 'real.telemetry.jsonl');
  process.on('exit', killChildrenNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

  let port = 0;
  let leader: Child;
  const startLeader = async (): Promise<Child> => {
    const c = spawnChild('leader', [bin, 'leader', '--music-dir', music, '--host', '127.0.0.1', '--port', String(port), '--repeat', 'all', '--no-ui', '--no-advertise', '--no-web', '--socket', socketPath, '--state-dir', stateDir], join(out, 'leader.log'), { cwd: work, env: { ...process.env, XDG_STATE_HOME: join(work, 'xdg') } });
    for (let i = 0; i < 200; i++) {
      await sleep(100);
      const m = [...readFileSync(c.logPath, 'utf8').matchAll(/listening on 127\.0\.0\.1:(\d+)/g)].pop();
      if (m && (port === 0 || Number(m[1]) === port) && readFileSync(c.logPath, 'utf8').includes('control socket')) {
        port = Number(m[1]);
        return c;
      }
      if (c.exited) throw new Error('the leader exited at start');
    }
    throw new Error('the leader did not start');
  };
  leader = await startLeader();
  const secret = readFileSync(join(stateDir, 'party-secret'), 'utf8').split('\n')[0]!.trim();
  const member = spawnChild('member', [bin, 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', music, '--name', 'real', '--mpv-arg=--ao=null', '--secret-file', join(stateDir, 'party-secret'), '--telemetry', telemetry], join(out, 'member.log'), { cwd: work, env: { ...process.env, XDG_STATE_HOME: join(work, 'member-state') } });

  const status = async (): Promise<LeaderStatus | null> => {
    try {
      const r = await sendControl({ cmd: 'status' }, socketPath, 3000);
      return (r.status as LeaderStatus) ?? null;
    } catch {
      return null;
    }
  };
  const real = async () => (await status())?.members.find((m) => m.name === 'real') ?? null;
  const waitFor = async (what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> => {
    const t0 = Date.now();
    while (!(await ok())) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out: ${what}`);
      await sleep(200);
    }
    return Date.now() - t0;
  };
  await waitFor('the member to join', async () => (await real())?.rttMs != null);
  await sendControl({ cmd: 'play' }, socketPath);
  await waitFor('the member to play', async () => (await real())?.playerState === 'playing');
  await sleep(3000);

  // Leader RSS sampled throughout; each scenario reports its own peak.
  let peakKb = 0;
  const sampler = setInterval(() => {
    const kb = memoryKb(leader.pid)?.rss ?? 0;
    if (kb > peakKb) peakKb = kb;
  }, 100);
  const rows: Row[] = [];
  let crashes = 0;
  /**
   * `memberMustHold`: the scenario's target includes the member playing on with no hard seek
   * (leader restarts and stops). Elsewhere the member's seeks are reported, not judged: on this
   * shared 2-core machine a flood that takes the CPU delays the member's own process too.
   */
  const scenario = async (name: string, run: () => Promise<{ figure: string; held: boolean; detail?: Record<string, unknown> }>, memberMustHold = false): Promise<void> => {
    const before = await real();
    peakKb = memoryKb(leader.pid)?.rss ?? 0;
    process.stdout.write(`abuse: ${name}…\n`);
    let r: { figure: string; held: boolean; detail?: Record<string, unknown> };
    try {
      r = await run();
    } catch (e) {
      r = { figure: `error: ${(e as Error).message}`, held: false };
    }
    await sleep(1500);
    if (leader.exited) {
      crashes++;
      r = { ...r, held: false, figure: `${r.figure}; LEADER EXITED (code ${leader.exitCode}, signal ${leader.exitSignal})` };
      leader = await startLeader();
    }
    const after = await real();
    const seeks = (after?.hardSeeks ?? 0) - (before?.hardSeeks ?? 0);
    const playing = after?.playerState === 'playing' && after.connected;
    const row: Row = { scenario: name, figure: `${r.figure}; member ${playing ? 'playing' : `NOT playing (${after?.playerState ?? 'absent'})`}, ${seeks} hard seeks`, held: r.held && !leader.exited && (!memberMustHold || (playing && seeks === 0)), leaderPeakMb: peakKb / 1024, ...(r.detail ? { detail: r.detail } : {}) };
    rows.push(row);
    process.stdout.write(`  ${row.held ? 'held' : 'MISSED'}: ${row.figure} (leader peak RSS ${row.leaderPeakMb.toFixed(1)} MB, load ${loadavg()[0]!.toFixed(1)})\n`);
  };

  const fuzz = async (joined: boolean): Promise<{ figure: string; held: boolean; detail: Record<string, unknown> }> => {
    const next = fuzzLines(joined ? 2 : 1);
    let sent = 0;
    let connections = 0;
    let joinFailures = 0;
    const t0 = Date.now();
    const worker = async (w: number): Promise<void> => {
      while (sent < totalLines) {
        const c = await RawClient.connect(port, joined ? secret : null).catch(() => null);
        if (!c) {
          await sleep(50);
          continue;
        }
        connections++;
        if (joined && !(await c.join(`fuzz-${w}`, w.toString(16).padStart(32, 'f')))) {
          joinFailures++;
          c.close();
          await sleep(100);
          continue;
        }
        // Up to 100 lines per connection: the leader cuts a peer off after 100 bad ones.
        let batch = '';
        let n = 0;
        for (; n < 100 && sent + n < totalLines; n++) batch += next() + '\n';
        if (joined) for (const line of batch.split('\n').slice(0, -1)) c.write(line);
        else c.socket.write(batch);
        sent += n;
        await c.next(() => false, 300);
        c.close();
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
    const secs = (Date.now() - t0) / 1000;
    return { figure: `${sent} lines over ${connections} connections in ${secs.toFixed(0)} s, leader alive`, held: !leader.exited && joinFailures < connections / 10, detail: { sent, connections, joinFailures, secs } };
  };

  await scenario(`fuzz ${totalLines} lines before joining`, () => fuzz(false));
  await scenario(`fuzz ${totalLines} lines joined (tagged, so they reach the parser)`, () => fuzz(true));

  await scenario('idle flood: 2000 connections from one address, a newcomer joins meanwhile', async () => {
    const socks: Socket[] = [];
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const s = createConnection({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        if (d.includes('"busy"')) refused++;
      });
      socks.push(s);
      if (i % 100 === 0) await sleep(10);
    }
    await sleep(1000);
    const newcomer = await RawClient.connect(port, secret);
    const joinedOk = await newcomer.join('newcomer');
    newcomer.close();
    await sleep(6000);
    const open = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
    socks.forEach((s) => s.destroy());
    return { figure: `${refused} told busy at once, ${open} still open after 7 s, newcomer ${joinedOk ? 'joined' : 'REFUSED'}`, held: joinedOk && open === 0, detail: { refused, open } };
  });

  await scenario('drip flood: 500 connections sending a partial line a byte at a time', async () => {
    const socks: Socket[] = [];
    for (let i = 0; i < 500; i++) {
      const s = createConnection({ host: '127.0.0.1', port, localAddress: `127.0.0.${3 + (i % 50)}` });
      s.on('error', () => {});
      socks.push(s);
    }
    const drip = setInterval(() => socks.forEach((s) => !s.destroyed && s.write('{"type":"hello","name":"'.slice(0, 1))), 200);
    const t0 = Date.now();
    let open = socks.length;
    while (open > 0 && Date.now() - t0 < 30_000) {
      await sleep(250);
      open = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
    }
    const allClosedS = (Date.now() - t0) / 1000;
    clearInterval(drip);
    socks.forEach((s) => s.destroy());
    return { figure: open === 0 ? `all 500 closed by the leader within ${allClosedS.toFixed(1)} s (handshake timeout 5 s)` : `${open} of 500 STILL OPEN after 30 s`, held: open === 0, detail: { open, allClosedS } };
  });

  await scenario('unread replies: 20 joined clients flood time requests and never read', async () => {
    const clients: RawClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(port, secret);
      if (await c.join(`hog-${i}`)) clients.push(c);
    }
    clients.forEach((c) => c.socket.pause());
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < 15_000 && clients.some((c) => !c.closed)) {
      for (const c of clients) {
        if (c.closed || c.socket.writableLength > 1_000_000) continue;
        for (let k = 0; k < 200; k++) c.write(JSON.stringify({ type: 'time-req', id: sent++, t1: 1 }));
      }
      await sleep(10);
    }
    const dropped = clients.filter((c) => c.closed).length;
    clients.forEach((c) => c.close());
    return { figure: `${clients.length} joined, ${sent} requests sent in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${dropped} dropped by the leader`, held: true, detail: { sent, dropped } };
  });

  await scenario('absurd values: 1000 statuses with out-of-range numbers', async () => {
    let c = await RawClient.connect(port, secret);
    if (!(await c.join('liar', 'a'.repeat(32)))) throw new Error('could not join');
    const fields: [string, unknown][] = [['rttMs', 1e308], ['rttMs', -1], ['clockOffsetMs', 1e300], ['errorMs', -1e300], ['speed', 1e9], ['trackIndex', -5], ['latencyOffsetMs', 1e7], ['volume', 1e6], ['hardSeeks', -1]];
    const base = { type: 'status', clockOffsetMs: 0, rttMs: 0.2, clockSkewPpm: 0, errorMs: null, speed: null, trackIndex: null, playerState: 'idle', fileStatus: 'ok', fileProblems: [], latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0 };
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      const [k, v] = fields[i % fields.length]!;
      if (i % 90 === 89) {
        // The leader cuts a peer off after 100 bad lines: a fresh connection.
        c.close();
        c = await RawClient.connect(port, secret);
        if (!(await c.join('liar', 'a'.repeat(32)))) throw new Error('could not rejoin');
      }
      c.lines.length = 0;
      c.write(JSON.stringify({ ...base, [k]: v }));
      const e = await c.next((m) => m.type === 'error', 2000);
      if (e?.code === 'invalid-message' && String(e.message).includes(k)) refused++;
    }
    c.close();
    const liar = (await status())?.members.find((m) => m.name === 'liar');
    const stored = liar ? `stored rtt ${liar.rttMs ?? 'none'}, offset ${liar.latencyOffsetMs ?? 'none'}, volume ${liar.volume}` : 'not listed';
    const sane = !liar || ((liar.rttMs === null || liar.rttMs <= 2000) && liar.volume <= 100);
    return { figure: `${refused} of 1000 refused naming the field; ${stored}`, held: refused === 1000 && sane, detail: { refused } };
  });

  await scenario('injected lines: 50 untagged lines into authenticated connections', async () => {
    let dropped = 0;
    let obeyed = 0;
    for (let i = 0; i < 50; i++) {
      const c = await RawClient.connect(port, secret);
      if (!(await c.join(`victim-${i % 5}`, (i % 5).toString(16).padStart(32, 'e')))) continue;
      c.writeRaw(JSON.stringify({ type: 'set-offset', requestId: 1, member: 'real', latencyOffsetMs: 5000 }));
      await c.next(() => false, 300);
      if (c.closed) dropped++;
      c.close();
    }
    const r = await real();
    if (r?.latencyOffsetMs === 5000) obeyed++;
    return { figure: `${dropped} of 50 connections dropped at the injected line, ${obeyed} obeyed`, held: dropped === 50 && obeyed === 0, detail: { dropped, obeyed } };
  });

  const readings = (file = telemetry) => readTelemetry(file);
  const maxGapSince = (fromMs: number): number => {
    const rs = readings().filter((r) => r.localMs >= fromMs);
    let gap = 0;
    for (let i = 1; i < rs.length; i++) gap = Math.max(gap, rs[i]!.localMs - rs[i - 1]!.localMs);
    return gap;
  };
  /** The audio's largest stall or jump: audio-pts against the local clock between readings (track changes skipped). */
  const audioJumpSince = (fromMs: number, file = telemetry): number => {
    const rs = readings(file).filter((r) => r.localMs >= fromMs);
    let worst = 0;
    for (let i = 1; i < rs.length; i++) {
      const dPts = (rs[i]!.audioPtsSec - rs[i - 1]!.audioPtsSec) * 1000;
      if (dPts < 0) continue;
      worst = Math.max(worst, Math.abs(dPts - (rs[i]!.localMs - rs[i - 1]!.localMs)));
    }
    return worst;
  };
  const nowLocal = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

  for (let i = 1; i <= restarts; i++) {
    await scenario(`leader kill -9 and restart (${i}/${restarts})`, async () => {
      const from = nowLocal();
      const before = (await status())?.timeline;
      process.kill(leader.pid, 'SIGKILL');
      await leader.exitedPromise;
      await sleep(1000);
      leader = await startLeader();
      const rejoinMs = await waitFor('the member to rejoin', async () => (await real())?.connected === true && (await real())?.rttMs != null);
      const after = (await status())?.timeline;
      await sleep(2000);
      const gap = maxGapSince(from);
      const jump = audioJumpSince(from);
      // The same timeline: its sequence number and state (heartbeats re-anchor it at track changes).
      const same = before !== undefined && after !== undefined && before.seq === after.seq && before.state === after.state;
      return { figure: `timeline ${same ? `#${after?.seq} resumed` : 'CHANGED'}, member back ${(rejoinMs / 1000).toFixed(1)} s after the restart, audio never stalled or jumped more than ${jump.toFixed(1)} ms (readings at most ${gap.toFixed(0)} ms apart)`, held: same && jump < 50, detail: { rejoinMs, gapMs: gap, audioJumpMs: jump } };
    }, true);
  }

  await scenario('leader SIGSTOP 10 s', async () => {
    const from = nowLocal();
    process.kill(leader.pid, 'SIGSTOP');
    await sleep(10_000);
    process.kill(leader.pid, 'SIGCONT');
    const backMs = await waitFor('the member to be connected again', async () => (await real())?.connected === true && (await real())?.rttMs != null);
    const jump = audioJumpSince(from);
    return { figure: `member back ${(backMs / 1000).toFixed(1)} s after SIGCONT, audio never stalled or jumped more than ${jump.toFixed(1)} ms`, held: jump < 50, detail: { audioJumpMs: jump } };
  }, true);

  await scenario('member SIGSTOP 10 s', async () => {
    process.kill(member.pid, 'SIGSTOP');
    const t0 = Date.now();
    await waitFor('the leader to mark it lost', async () => (await real())?.connected === false, 15_000);
    const lostMs = Date.now() - t0;
    await sleep(Math.max(0, 10_000 - lostMs));
    process.kill(member.pid, 'SIGCONT');
    const backMs = await waitFor('the member to rejoin', async () => (await real())?.connected === true && (await real())?.playerState === 'playing');
    return { figure: `marked lost after ${(lostMs / 1000).toFixed(1)} s, playing again ${(backMs / 1000).toFixed(1)} s after SIGCONT`, held: lostMs < 6000 };
  });

  await scenario(`partition: a second member cut off from the leader for ${partitionS} s both ways`, async () => {
    // A member behind a proxy that can drop the link (impair-proxy.ts): nothing crosses in either
    // direction for the partition, as when a Pi loses Wi-Fi; what was sent meanwhile arrives after.
    const proxy = new ImpairProxy({ targetHost: '127.0.0.1', targetPort: port, up: { delayMs: 0 }, down: { delayMs: 0 } });
    const proxyPort = await proxy.start();
    const farTelemetry = join(work, 'far.telemetry.jsonl');
    writeFileSync(farTelemetry, '');
    const far = spawnChild('far', [bin, 'member', '--ip', '127.0.0.1', '--port', String(proxyPort), '--music-dir', music, '--name', 'far', '--mpv-arg=--ao=null', '--secret-file', join(stateDir, 'party-secret'), '--telemetry', farTelemetry], join(out, 'far.log'), { cwd: work, env: { ...process.env, XDG_STATE_HOME: join(work, 'far-state') } });
    const farView = async () => (await status())?.members.find((m) => m.name === 'far') ?? null;
    try {
      await waitFor('the far member to play', async () => (await farView())?.playerState === 'playing', 60_000);
      await sleep(10_000);
      const st = (await sendControl({ cmd: 'status', tracks: true }, socketPath)).status as LeaderStatus;
      const seeksBefore = (await farView())?.hardSeeks ?? 0;
      const cut = nowLocal();
      proxy.partition(partitionS * 1000);
      const lostMs = await waitFor('the leader to mark the far member lost', async () => (await farView())?.connected === false, partitionS * 1000);
      await sleep(cut + partitionS * 1000 - nowLocal());
      const healed = nowLocal();
      const rejoinMs = await waitFor('the far member to rejoin', async () => {
        const v = await farView();
        return v?.connected === true && v.rttMs != null;
      }, 60_000);
      await sleep(10_000);
      const seeks = ((await farView())?.hardSeeks ?? 0) - seeksBefore;
      const rs = readings(farTelemetry);
      const during = rs.filter((r) => r.localMs >= cut && r.localMs < healed);
      const errors = (from: number, to: number): number[] => rs.filter((r) => r.localMs >= from && r.localMs < to).map((r) => trueErrorMs(r, st.timeline, st.tracks ?? [])).filter((e): e is number => e !== null).map(Math.abs);
      const duringErr = errors(cut, healed);
      const afterErr = errors(healed + rejoinMs, nowLocal());
      const jump = audioJumpSince(cut, farTelemetry);
      const playedOn = during.length >= partitionS * 5 && jump < 50;
      const duringStats = stats(duringErr);
      const afterStats = stats(afterErr);
      const figure = `kept playing through the partition (${during.length} readings, audio never stalled or jumped more than ${jump.toFixed(1)} ms, absolute error p50/p95/max ${formatStats(duringStats, 2)} ms), marked lost after ${(lostMs / 1000).toFixed(1)} s, rejoined ${(rejoinMs / 1000).toFixed(1)} s after the link came back, |error| in the 10 s after rejoining p50/p95/max ${formatStats(afterStats, 2)} ms, ${seeks} hard seeks`;
      return { figure, held: playedOn && seeks === 0 && afterStats.max !== null && afterStats.max < 20, detail: { readingsDuring: during.length, audioJumpMs: jump, lostMs, rejoinMs, duringErr: duringStats, afterErr: afterStats, hardSeeks: seeks } };
    } finally {
      await stopChild(far);
      await proxy.stop();
    }
  });

  await scenario('mpv kill -9', async () => {
    const mpv = descendants(member.pid).find((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'mpv';
      } catch {
        return false;
      }
    });
    if (mpv === undefined) throw new Error('no mpv found');
    const t0 = Date.now();
    process.kill(mpv, 'SIGKILL');
    await sleep(1500);
    const backMs = await waitFor('the member to play again', async () => (await real())?.playerState === 'playing');
    return { figure: `playing again ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill`, held: backMs < 20_000 };
  });

  clearInterval(sampler);
  const bound = 200;
  const peak = Math.max(...rows.map((r) => r.leaderPeakMb));
  writeFileSync(join(out, 'abuse.json'), JSON.stringify({ load1AtEnd: loadavg()[0], command: `node dist/bench/abuse.js --lines ${totalLines} --restarts ${restarts} --partition-s ${partitionS}`, crashes, leaderRssBoundMb: bound, leaderPeakMb: peak, rows }, null, 2) + '\n');
  process.stdout.write(`\n| scenario | figure | leader peak RSS | held |\n|---|---|---|---|\n`);
  for (const r of rows) process.stdout.write(`| ${r.scenario} | ${r.figure} | ${r.leaderPeakMb.toFixed(0)} MB | ${r.held ? 'yes' : 'no'} |\n`);
  process.stdout.write(`\nleader crashes: ${crashes}; leader peak RSS ${peak.toFixed(0)} MB (bound ${bound} MB: ${peak < bound ? 'held' : 'MISSED'})\n`);
  await stopChild(member);
  await stopChild(leader);
}

main().catch((e) => {
  process.stderr.write(`abuse: ${(e as Error).stack ?? e}\n`);
  // Exit now: the leader and members still running would keep this process alive (they are
  // stopped on exit).
  process.exit(1);
});
