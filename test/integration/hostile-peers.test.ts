/**
 * The leader against peers that do not play by the rules, over real TCP on loopback: a reader
 * that never reads, floods, silent sessions, too many connections, absurd values, and lines
 * injected into an authenticated connection (through a forwarding proxy that can add its own).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Leader } from '../../src/leader/leader.js';
import type { LeaderLimits } from '../../src/leader/limits.js';
import { isLocalAddress } from '../../src/leader/local-address.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { LeaderLink } from '../../src/member/leader-link.js';
import { PROTOCOL_VERSION, type MemberSettings, type Track } from '../../src/protocol/index.js';
import { JsonLines, sleep } from './harness.js';

const tracks: Track[] = [1, 2, 3].map((i) => ({ path: `t${i}.ogg`, hash: String(i).repeat(64), durationSec: 200, title: `Track ${i}` }));

function recordingLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('debug', '', (l) => lines.push(l)), lines };
}

async function until<T>(what: string, check: () => T | null | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const helloFor = (name: string) => ({ type: 'hello', protocol: PROTOCOL_VERSION, name, clientNonce: 'n', version: 'test' });
const statusMessage = { type: 'status', clockOffsetMs: 0, rttMs: 0.2, clockSkewPpm: 0, errorMs: null, speed: null, trackIndex: null, playerState: 'idle', fileStatus: 'ok', fileProblems: [], latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0 };

describe('hostile peers', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function leaderWith(limits: Partial<LeaderLimits> = {}, secret: string | null = null): Promise<{ leader: Leader; lines: string[] }> {
    const { log, lines } = recordingLog();
    const leader = new Leader({ host: '127.0.0.1', port: 0, tracks, secret, leadMs: 300, version: 'test', log, heartbeatMs: 200, limits });
    await leader.start();
    cleanups.push(() => leader.stop());
    return { leader, lines };
  }

  async function raw(port: number): Promise<JsonLines> {
    const c = await JsonLines.connect(port);
    cleanups.push(() => c.close());
    return c;
  }

  it('drops a joined client that floods time requests and never reads the replies; others play on', async () => {
    const { leader, lines } = await leaderWith({ maxWriteBufferBytes: 64 * 1024, timeRequestsPerSec: 1e9, timeRequestBurst: 1e9, messagesPerSec: 1e9, messageBurst: 1e9 });
    const good = await raw(leader.port);
    good.send(helloFor('good'));
    await good.next((m) => m.type === 'welcome');
    const keepAlive = setInterval(() => good.send(statusMessage), 300);
    cleanups.push(() => clearInterval(keepAlive));

    const sock = createConnection({ host: '127.0.0.1', port: leader.port });
    cleanups.push(() => void sock.destroy());
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(JSON.stringify(helloFor('hog')) + '\n');
    await sleep(200);
    sock.pause(); // never read again
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.on('error', () => {});
    const line = JSON.stringify({ type: 'time-req', id: 1, t1: 1 }) + '\n';
    const chunk = line.repeat(2000);
    const started = Date.now();
    while (!closed && Date.now() - started < 20_000) {
      if (sock.writableLength < 1_000_000) sock.write(chunk);
      await sleep(5);
    }
    expect(closed).toBe(true);
    expect(lines.some((l) => /"hog".*dropped: not reading/.test(l))).toBe(true);
    // The well-behaved member is still joined and hears heartbeats.
    const n = good.received.length;
    await good.next((m) => m.type === 'heartbeat', 2000, n);
    expect(leader.status().members.find((m) => m.name === 'good')?.connected).toBe(true);
  }, 30_000);

  it('rate-limits time requests and says so', async () => {
    const { leader } = await leaderWith({ timeRequestsPerSec: 20, timeRequestBurst: 50 });
    const c = await raw(leader.port);
    c.send(helloFor('fast'));
    await c.next((m) => m.type === 'welcome');
    const from = c.received.length;
    let batch = '';
    for (let i = 0; i < 1000; i++) batch += JSON.stringify({ type: 'time-req', id: i, t1: i }) + '\n';
    c.socket.write(batch);
    await c.next((m) => m.type === 'error' && m.code === 'rate-limited', 3000, from);
    await sleep(500);
    const answered = c.received.slice(from).filter((m) => m.type === 'time-res').length;
    expect(answered).toBeGreaterThanOrEqual(50);
    expect(answered).toBeLessThan(50 + 20 * 2); // burst + at most ~2 s of the sustained rate
  });

  it('closes a joined session that falls silent and lists the member as lost', async () => {
    const { leader, lines } = await leaderWith({ silentAfterMs: 1000 });
    const c = await raw(leader.port);
    c.send(helloFor('wifi-drop'));
    await c.next((m) => m.type === 'welcome');
    c.send(statusMessage);
    const t0 = Date.now();
    await until('the silent session to close', () => c.closed, 5000);
    const after = Date.now() - t0;
    expect(after).toBeGreaterThan(800);
    expect(after).toBeLessThan(3000);
    const m = leader.status().members.find((x) => x.name === 'wifi-drop');
    expect(m?.connected).toBe(false);
    expect(lines.some((l) => /wifi-drop.*marked lost/.test(l))).toBe(true);
  });

  it('caps pending handshakes and members, with a reason', async () => {
    const { leader } = await leaderWith({ maxPendingHandshakes: 3, maxMembers: 2 });
    const idle: JsonLines[] = [];
    for (let i = 0; i < 3; i++) idle.push(await raw(leader.port));
    await sleep(100);
    const extra = await raw(leader.port);
    const busy = await extra.next((m) => m.type === 'error');
    expect(busy).toMatchObject({ code: 'busy' });
    await until('the extra connection to close', () => extra.closed, 3000);
    // Finishing handshakes frees the slots; the third member is over the cap.
    idle[0]!.send(helloFor('a'));
    idle[1]!.send(helloFor('b'));
    await idle[0]!.next((m) => m.type === 'welcome');
    await idle[1]!.next((m) => m.type === 'welcome');
    idle[2]!.send(helloFor('c'));
    const refused = await idle[2]!.next((m) => m.type === 'error');
    expect(refused).toMatchObject({ code: 'refused' });
    expect(String(refused.message)).toMatch(/maximum of 2 members/);
    expect(leader.status().members.map((m) => m.name).sort()).toEqual(['a', 'b']);
  });

  it('one address flooding handshakes cannot keep another from joining', async () => {
    const { leader } = await leaderWith();
    const flood: Socket[] = [];
    let busy = 0;
    for (let i = 0; i < 40; i++) {
      const s = createConnection({ host: '127.0.0.1', port: leader.port, localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        if (d.toString().includes('"busy"')) busy++;
      });
      flood.push(s);
    }
    cleanups.push(() => flood.forEach((s) => s.destroy()));
    await until('the flood to be turned away', () => busy >= 40 - 8, 5000);
    const c = await raw(leader.port);
    c.send(helloFor('neighbour'));
    await c.next((m) => m.type === 'welcome');
    expect(busy).toBe(40 - 8);
  });

  it('refuses absurd values with the field and the range', async () => {
    const { leader } = await leaderWith();
    const c = await raw(leader.port);
    c.send(helloFor('liar'));
    await c.next((m) => m.type === 'welcome');
    for (const [field, value] of [['rttMs', 1e308], ['rttMs', -5], ['speed', 1e9], ['latencyOffsetMs', 1e7], ['trackIndex', -3], ['volume', 1e6]] as const) {
      const from = c.received.length;
      c.send({ ...statusMessage, [field]: value });
      const err = await c.next((m) => m.type === 'error', 3000, from);
      expect(err.code).toBe('invalid-message');
      expect(String(err.message)).toContain(field);
    }
    // Nothing absurd was stored: a command's lead is --lead-ms plus at most a sane round trip.
    const lead = leader.commandInstant() - leader.now();
    expect(lead).toBeLessThan(300 + 1000 + 50);
  });

  it('drops an authenticated connection on an injected line, either way, and obeys none', async () => {
    const secret = 'correct horse battery staple';
    const { leader, lines } = await leaderWith({}, secret);
    const proxy = await injectingProxy(leader.port);
    cleanups.push(() => proxy.close());
    const { log } = recordingLog();
    const settings: MemberSettings[] = [];
    let joins = 0;
    const link = new LeaderLink({ host: '127.0.0.1', port: proxy.port, name: 'kitchen', secret, version: 'test', log, status: () => ({ errorMs: null, speed: null, trackIndex: null, playerState: 'idle', fileStatus: 'ok', fileProblems: [], latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0 }) });
    link.on('settings', (s) => settings.push(s));
    link.on('connected', () => joins++);
    link.start();
    cleanups.push(() => link.stop());
    await until('the member to join', () => joins === 1 && settings.length === 1);
    expect(settings[0]).toMatchObject({ volume: 100 });

    // Toward the member: a forged settings message. Not obeyed; the connection is dropped and rebuilt.
    proxy.injectToClient(JSON.stringify({ type: 'settings', settings: { volume: 0, muted: true, latencyOffsetMs: 9000 } }) + '\n');
    await until('the member to rejoin', () => joins === 2, 10_000);
    expect(settings.every((s) => s.volume === 100 && !s.muted && s.latencyOffsetMs === null)).toBe(true);

    // Toward the leader: a forged status and a forged offset request. Neither is obeyed.
    proxy.injectToServer(JSON.stringify({ ...statusMessage, volume: 3, playerState: 'playing' }) + '\n');
    await until('the leader to drop the connection', () => lines.some((l) => /"kitchen".*dropped: a line without a valid tag/.test(l)), 5000);
    expect(leader.status().members.every((m) => m.playerState !== 'playing' || m.volume !== 3)).toBe(true);
    await until('the member to rejoin again', () => joins === 3, 10_000);
  }, 30_000);

  it('knows loopback and this host as local, a LAN stranger not', () => {
    expect(isLocalAddress('127.0.0.1')).toBe(true);
    expect(isLocalAddress('::ffff:127.0.0.1')).toBe(true);
    expect(isLocalAddress('::1')).toBe(true);
    expect(isLocalAddress('192.0.2.77')).toBe(false);
    expect(isLocalAddress(undefined)).toBe(false);
  });
});

/** A TCP forwarder that can add lines of its own in either direction (at a line boundary). */
async function injectingProxy(target: number): Promise<{ port: number; injectToClient(line: string): void; injectToServer(line: string): void; close(): Promise<void> }> {
  let current: { client: Socket; upstream: Socket; toClient: string; toServer: string } | null = null;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    const pair = { client, upstream, toClient: '', toServer: '' };
    current = pair;
    const forward = (from: Socket, to: Socket, pendingKey: 'toClient' | 'toServer') => {
      let partial = '';
      from.on('data', (d: Buffer) => {
        const text = partial + d.toString('utf8');
        const nl = text.lastIndexOf('\n');
        partial = text.slice(nl + 1);
        let out = text.slice(0, nl + 1);
        if (pair[pendingKey] && nl >= 0) {
          out += pair[pendingKey];
          pair[pendingKey] = '';
        }
        if (out) to.write(out);
      });
    };
    forward(upstream, client, 'toClient');
    forward(client, upstream, 'toServer');
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    injectToClient: (line) => {
      if (current) current.toClient += line;
    },
    injectToServer: (line) => {
      if (current) current.toServer += line;
    },
    close: () =>
      new Promise((r) => {
        const c = current as { client: Socket; upstream: Socket } | null;
        c?.client.destroy();
        c?.upstream.destroy();
        server.close(() => r());
      }),
  };
}
