import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  JsonLineConnection,
  LineFramer,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  leaderProof,
  leaderToMember,
  memberProof,
  memberToLeader,
  newNonce,
  parseLine,
  proofsMatch,
  readSecretFile,
  timelineSchema,
  trackSchema,
  type LeaderMessage,
  type MemberMessage,
} from '../../src/protocol/index.js';

const HASH = 'a'.repeat(64);

describe('parseLine', () => {
  it('accepts a valid message and returns the parsed data', () => {
    const r = parseLine(memberToLeader, JSON.stringify({ type: 'time-req', id: 7, t1: 123.5 }));
    expect(r).toEqual({ ok: true, message: { type: 'time-req', id: 7, t1: 123.5 } });
  });

  it('accepts every leader message kind', () => {
    const timeline = { seq: 1, state: 'playing', trackIndex: 0, positionSec: 1.5, at: 1000, repeat: 'off', playlistVersion: 1 };
    const track = { path: 'a.mp3', hash: HASH, durationSec: 10, title: 'A' };
    const playlist = { version: 1, count: 1, digest: HASH };
    const lines: unknown[] = [
      { type: 'server-hello', protocol: PROTOCOL_VERSION, nonce: 'n', authRequired: false, version: '0.1.0', clock: 'monotonic' },
      { type: 'welcome', memberId: '1', playlist, timeline },
      { type: 'time-res', id: 1, t1: 1, t2: 2, t3: 3 },
      { type: 'timeline', timeline },
      { type: 'heartbeat', leaderMs: 5, timeline },
      { type: 'playlist', playlist },
      { type: 'playlist-page', version: 1, start: 0, tracks: [track] },
      { type: 'error', code: 'x', message: 'y' },
    ];
    for (const m of lines) {
      const r = parseLine(leaderToMember, JSON.stringify(m));
      expect(r.ok, JSON.stringify(m)).toBe(true);
    }
  });

  it('reports malformed JSON', () => {
    const r = parseLine(memberToLeader, '{"type": "time-req",');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('malformed-json');
    expect(r.error).toMatch(/^not valid JSON \(/);
  });

  it.each(['[1,2]', 'null', '42', '"text"', 'true'])('reports a non-object %s as not-an-object', (line) => {
    const r = parseLine(memberToLeader, line);
    expect(r).toEqual({ ok: false, code: 'not-an-object', error: 'a message must be a JSON object' });
  });

  it('reports an unknown type, a missing type and a non-string type as unknown-type', () => {
    expect(parseLine(memberToLeader, '{"type":"bogus"}')).toEqual({ ok: false, code: 'unknown-type', error: 'unknown message type "bogus"' });
    expect(parseLine(memberToLeader, '{"id":1}')).toMatchObject({ ok: false, code: 'unknown-type' });
    expect(parseLine(memberToLeader, '{"type":5}')).toMatchObject({ ok: false, code: 'unknown-type', error: 'unknown message type 5' });
  });

  it('a leader-only type is unknown to the member→leader schema', () => {
    const r = parseLine(memberToLeader, JSON.stringify({ type: 'heartbeat', leaderMs: 1, timeline: { seq: 0, state: 'stopped', trackIndex: 0, positionSec: 0, at: 0 } }));
    expect(r).toMatchObject({ ok: false, code: 'unknown-type' });
  });

  it('reports an invalid message with the type and the offending field path', () => {
    const missing = parseLine(memberToLeader, '{"type":"time-req","id":1}');
    expect(missing).toMatchObject({ ok: false, code: 'invalid-message' });
    if (!missing.ok) expect(missing.error).toMatch(/^invalid "time-req" message: t1: /);

    const nonInt = parseLine(memberToLeader, '{"type":"time-req","id":1.5,"t1":0}');
    if (nonInt.ok) throw new Error('expected failure');
    expect(nonInt.error).toMatch(/: id: /);

    const nested = parseLine(
      leaderToMember,
      JSON.stringify({ type: 'timeline', timeline: { seq: -1, state: 'playing', trackIndex: 0, positionSec: 0, at: 0, repeat: 'off' } }),
    );
    if (nested.ok) throw new Error('expected failure');
    expect(nested.code).toBe('invalid-message');
    expect(nested.error).toMatch(/^invalid "timeline" message: timeline\.seq: /);
  });

  it('rejects non-finite numbers and bad enums in timelines', () => {
    const valid = { seq: 0, state: 'playing', trackIndex: 0, positionSec: 0, at: 0, repeat: 'off', playlistVersion: 0 };
    expect(timelineSchema.safeParse(valid).success).toBe(true);
    expect(timelineSchema.safeParse({ ...valid, positionSec: -1 }).success).toBe(false);
    expect(timelineSchema.safeParse({ ...valid, state: 'rewinding' }).success).toBe(false);
    expect(timelineSchema.safeParse({ ...valid, positionSec: Infinity }).success).toBe(false);
    expect(timelineSchema.safeParse({ ...valid, at: NaN }).success).toBe(false);
    expect(timelineSchema.safeParse({ ...valid, trackIndex: 0.5 }).success).toBe(false);
    // JSON has no Infinity: a huge exponent parses to Infinity and must be refused.
    const r = parseLine(memberToLeader, '{"type":"time-req","id":1,"t1":1e999}');
    expect(r).toMatchObject({ ok: false, code: 'invalid-message' });
  });

  it('only accepts lowercase 64-hex content hashes', () => {
    const base = { path: 'a.mp3', durationSec: 1, title: 't' };
    expect(trackSchema.safeParse({ ...base, hash: HASH }).success).toBe(true);
    expect(trackSchema.safeParse({ ...base, hash: 'A'.repeat(64) }).success).toBe(false);
    expect(trackSchema.safeParse({ ...base, hash: 'a'.repeat(63) }).success).toBe(false);
    expect(trackSchema.safeParse({ ...base, hash: 'g'.repeat(64) }).success).toBe(false);
  });

  it('validates status messages including nullable fields', () => {
    const status = {
      type: 'status',
      clockOffsetMs: null,
      rttMs: 0.4,
      clockSkewPpm: null,
      errorMs: null,
      speed: null,
      trackIndex: null,
      playerState: 'idle',
      fileStatus: 'checking',
      fileProblems: [{ index: 2, status: 'missing' }],
      latencyOffsetMs: 0,
      volume: 80,
      muted: false,
      hardSeeks: 0,
    };
    expect(parseLine(memberToLeader, JSON.stringify(status)).ok).toBe(true);
    const bad = parseLine(memberToLeader, JSON.stringify({ ...status, playerState: 'dancing' }));
    expect(bad).toMatchObject({ ok: false, code: 'invalid-message' });
    if (!bad.ok) expect(bad.error).toContain('playerState');
  });
});

describe('LineFramer', () => {
  function framer(max = 16) {
    const lines: string[] = [];
    const oversized: number[] = [];
    const f = new LineFramer(max, (l) => lines.push(l), (n) => oversized.push(n));
    return { f, lines, oversized };
  }

  it('splits several lines in one chunk', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('a\nbb\nccc\n'));
    expect(lines).toEqual(['a', 'bb', 'ccc']);
  });

  it('joins a line split across chunks and holds an unterminated tail', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('hel'));
    f.push(Buffer.from('lo'));
    expect(lines).toEqual([]);
    f.push(Buffer.from('\nwor'));
    expect(lines).toEqual(['hello']);
    f.push(Buffer.from('ld\n'));
    expect(lines).toEqual(['hello', 'world']);
  });

  it('delivers a line byte by byte', () => {
    const { f, lines } = framer(64);
    for (const b of Buffer.from('{"a":1}\r\n')) f.push(Buffer.from([b]));
    expect(lines).toEqual(['{"a":1}']);
  });

  it('strips a trailing CR (CRLF), including a CR arriving in its own chunk', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('one\r\ntwo\r'));
    f.push(Buffer.from('\n'));
    expect(lines).toEqual(['one', 'two']);
  });

  it('keeps a CR that is not at the end of the line', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('a\rb\n'));
    expect(lines).toEqual(['a\rb']);
  });

  it('skips empty and whitespace-only lines', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('\n\r\n   \nx\n\t\n'));
    expect(lines).toEqual(['x']);
  });

  it('decodes a multibyte UTF-8 character split across chunks', () => {
    const { f, lines } = framer(64);
    const bytes = Buffer.from('é€😀\n', 'utf8'); // 2 + 3 + 4 bytes
    // split inside every multibyte sequence
    f.push(bytes.subarray(0, 1));
    f.push(bytes.subarray(1, 3));
    f.push(bytes.subarray(3, 4));
    f.push(bytes.subarray(4, 7));
    f.push(bytes.subarray(7));
    expect(lines).toEqual(['é€😀']);
  });

  it('accepts a line of exactly the maximum length', () => {
    const { f, lines, oversized } = framer(8);
    f.push(Buffer.from('1234'));
    f.push(Buffer.from('5678\n'));
    expect(lines).toEqual(['12345678']);
    expect(oversized).toEqual([]);
  });

  it('discards an oversized line that arrives in one chunk and continues with the next', () => {
    const { f, lines, oversized } = framer(8);
    f.push(Buffer.from('123456789\nok\n'));
    expect(lines).toEqual(['ok']);
    expect(oversized).toEqual([9]);
  });

  it('reports an oversized line once and discards it up to its newline, across many chunks', () => {
    const { f, lines, oversized } = framer(8);
    f.push(Buffer.from('first\n'));
    f.push(Buffer.from('aaaaa'));
    f.push(Buffer.from('aaaaa')); // now 10 > 8: reported
    f.push(Buffer.from('aaaaaaaaaaaaaaaaaaaa'));
    f.push(Buffer.from('aaaa'));
    expect(oversized).toHaveLength(1);
    expect(oversized[0]).toBeGreaterThan(8);
    expect(lines).toEqual(['first']);
    f.push(Buffer.from('aaa\nnext\n'));
    expect(lines).toEqual(['first', 'next']);
    expect(oversized).toHaveLength(1);
  });

  it('does not buffer beyond the limit while discarding', () => {
    const { f, lines, oversized } = framer(8);
    f.push(Buffer.from('x'.repeat(9)));
    for (let i = 0; i < 1000; i++) f.push(Buffer.from('y'.repeat(100)));
    f.push(Buffer.from('\n12345678\n'));
    expect(lines).toEqual(['12345678']);
    expect(oversized).toHaveLength(1);
  });

  it('reports two consecutive oversized lines separately', () => {
    const { f, lines, oversized } = framer(4);
    f.push(Buffer.from('aaaaaa\nbbbbbb\ncc\n'));
    expect(oversized).toEqual([6, 6]);
    expect(lines).toEqual(['cc']);
  });
});

// ---------------------------------------------------------------------------
// JsonLineConnection over real TCP sockets
// ---------------------------------------------------------------------------

interface Pair {
  server: net.Server;
  serverSocket: net.Socket;
  client: net.Socket;
}

const openServers: net.Server[] = [];
const openSockets: net.Socket[] = [];

async function socketPair(): Promise<Pair> {
  const server = net.createServer();
  openServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const serverSocket = await accepted;
  openSockets.push(client, serverSocket);
  return { server, serverSocket, client };
}

/** Collects the JSON lines a raw socket receives. */
function collectLines(socket: net.Socket) {
  const received: unknown[] = [];
  let buffer = '';
  let closed = false;
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      received.push(JSON.parse(buffer.slice(0, nl)));
      buffer = buffer.slice(nl + 1);
    }
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  return {
    received,
    get closed() {
      return closed;
    },
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function leaderSide(socket: net.Socket, maxBadLines?: number) {
  const messages: MemberMessage[] = [];
  const bad: { code: string; detail: string }[] = [];
  const closes: boolean[] = [];
  const conn = new JsonLineConnection<MemberMessage, LeaderMessage>(
    socket,
    memberToLeader,
    {
      onMessage: (m) => messages.push(m),
      onBadInput: (code, detail) => bad.push({ code, detail }),
      onClose: (hadError) => closes.push(hadError),
    },
    maxBadLines,
  );
  return { conn, messages, bad, closes };
}

afterEach(() => {
  for (const s of openSockets.splice(0)) s.destroy();
  for (const s of openServers.splice(0)) s.close();
});

describe('JsonLineConnection (real sockets)', () => {
  it('delivers validated messages and sends JSON lines', async () => {
    const { serverSocket, client } = await socketPair();
    const peer = collectLines(client);
    const side = leaderSide(serverSocket);

    client.write(JSON.stringify({ type: 'time-req', id: 1, t1: 10 }) + '\n');
    client.write(JSON.stringify({ type: 'time-req', id: 2, t1: 20 }) + '\r\n');
    await until(() => side.messages.length === 2, 'two messages');
    expect(side.messages).toEqual([
      { type: 'time-req', id: 1, t1: 10 },
      { type: 'time-req', id: 2, t1: 20 },
    ]);
    expect(side.bad).toEqual([]);

    side.conn.send({ type: 'time-res', id: 1, t1: 10, t2: 11, t3: 12 });
    await until(() => peer.received.length === 1, 'reply');
    expect(peer.received[0]).toEqual({ type: 'time-res', id: 1, t1: 10, t2: 11, t3: 12 });
    expect(side.conn.isOpen).toBe(true);
  });

  it('reassembles a message written in small pieces, including a split multibyte name', async () => {
    const { serverSocket, client } = await socketPair();
    const side = leaderSide(serverSocket);
    const hello = { type: 'hello', protocol: PROTOCOL_VERSION, name: 'küche-😀', clientNonce: 'abc', version: '0.1.0' };
    const bytes = Buffer.from(JSON.stringify(hello) + '\n', 'utf8');
    for (let i = 0; i < bytes.length; i += 3) {
      client.write(bytes.subarray(i, i + 3));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => side.messages.length === 1, 'hello');
    expect(side.messages[0]).toEqual(hello);
  });

  it('answers bad input with an error message and keeps the connection open', async () => {
    const { serverSocket, client } = await socketPair();
    const peer = collectLines(client);
    const side = leaderSide(serverSocket);

    client.write('this is not json\n');
    client.write('[1,2,3]\n');
    client.write('{"type":"nope"}\n');
    client.write('{"type":"time-req","id":"x","t1":1}\n');
    client.write(JSON.stringify({ type: 'time-req', id: 3, t1: 1 }) + '\n');
    await until(() => side.messages.length === 1 && peer.received.length === 4, 'errors and the good message');

    expect(side.bad.map((b) => b.code)).toEqual(['malformed-json', 'not-an-object', 'unknown-type', 'invalid-message']);
    expect(peer.received).toEqual(side.bad.map((b) => ({ type: 'error', code: b.code, message: b.detail })));
    expect(side.messages).toEqual([{ type: 'time-req', id: 3, t1: 1 }]);
    expect(side.conn.isOpen).toBe(true);
    expect(peer.closed).toBe(false);
  });

  it('discards an oversized line, reports it once, and goes on with the next line', async () => {
    const { serverSocket, client } = await socketPair();
    const peer = collectLines(client);
    const side = leaderSide(serverSocket);

    const huge = JSON.stringify({ type: 'time-req', id: 1, t1: 1, pad: 'x'.repeat(MAX_LINE_BYTES + 100) });
    client.write(huge + '\n');
    client.write(JSON.stringify({ type: 'time-req', id: 2, t1: 2 }) + '\n');
    await until(() => side.messages.length === 1, 'the message after the oversized line');
    expect(side.messages).toEqual([{ type: 'time-req', id: 2, t1: 2 }]);
    expect(side.bad).toHaveLength(1);
    expect(side.bad[0]!.code).toBe('line-too-long');
    expect(side.bad[0]!.detail).toContain(String(MAX_LINE_BYTES));
    await until(() => peer.received.length === 1, 'error reply');
    expect(peer.received[0]).toMatchObject({ type: 'error', code: 'line-too-long' });
  });

  it('cuts off a peer after too many bad lines', async () => {
    const { serverSocket, client } = await socketPair();
    const peer = collectLines(client);
    const side = leaderSide(serverSocket, 2);

    client.write('x\ny\nz\n');
    await until(() => peer.closed, 'the leader side to close');
    expect(side.bad).toHaveLength(3);
    const codes = peer.received.map((m) => (m as { code: string }).code);
    expect(codes).toEqual(['malformed-json', 'malformed-json', 'malformed-json', 'too-many-errors']);
    await until(() => side.closes.length === 1, 'onClose');
    expect(side.conn.isOpen).toBe(false);
  });

  it('end() flushes a final message and closes; send() after close is a no-op', async () => {
    const { serverSocket, client } = await socketPair();
    const peer = collectLines(client);
    const side = leaderSide(serverSocket);
    client.on('end', () => client.end());

    side.conn.end({ type: 'error', code: 'auth-failed', message: 'bad proof' });
    await until(() => peer.closed, 'client close');
    expect(peer.received).toEqual([{ type: 'error', code: 'auth-failed', message: 'bad proof' }]);
    await until(() => side.closes.length === 1, 'onClose');
    expect(side.conn.isOpen).toBe(false);
    expect(() => side.conn.send({ type: 'error', code: 'x', message: 'y' })).not.toThrow();
    expect(() => side.conn.end()).not.toThrow();
  });

  it('reports the peer going away through onClose', async () => {
    const { serverSocket, client } = await socketPair();
    const side = leaderSide(serverSocket);
    client.destroy();
    await until(() => side.closes.length === 1, 'onClose');
    expect(side.conn.isOpen).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// auth
// ---------------------------------------------------------------------------

describe('auth proofs', () => {
  it('newNonce gives distinct 32-hex-digit nonces', () => {
    const a = newNonce();
    const b = newNonce();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
  });

  it('memberProof is HMAC-SHA256(secret, "member|nonce|name") in hex', () => {
    const expected = createHmac('sha256', 'sekrit-123').update('member|n0nce|kitchen').digest('hex');
    expect(memberProof('sekrit-123', 'n0nce', 'kitchen')).toBe(expected);
    expect(memberProof('sekrit-123', 'n0nce', 'kitchen')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('leaderProof is HMAC-SHA256(secret, "leader|clientNonce") in hex', () => {
    const expected = createHmac('sha256', 'sekrit-123').update('leader|cn').digest('hex');
    expect(leaderProof('sekrit-123', 'cn')).toBe(expected);
  });

  it('proofs depend on every input and are domain-separated', () => {
    const p = memberProof('secret-a', 'nonce', 'name');
    expect(memberProof('secret-b', 'nonce', 'name')).not.toBe(p);
    expect(memberProof('secret-a', 'nonce2', 'name')).not.toBe(p);
    expect(memberProof('secret-a', 'nonce', 'name2')).not.toBe(p);
    // a leader proof for the same nonce is not a member proof
    expect(leaderProof('secret-a', 'nonce')).not.toBe(memberProof('secret-a', 'nonce', ''));
  });

  it('proofsMatch compares exactly, without throwing on length mismatch or absence', () => {
    const p = memberProof('secret-a', 'n', 'm');
    expect(proofsMatch(p, p)).toBe(true);
    expect(proofsMatch(p, String(p))).toBe(true);
    expect(proofsMatch(p, undefined)).toBe(false);
    expect(proofsMatch(p, '')).toBe(false);
    expect(proofsMatch(p, p.slice(0, -1))).toBe(false);
    expect(proofsMatch(p, p + '0')).toBe(false);
    expect(proofsMatch(p, p.toUpperCase())).toBe(false);
    const flipped = (p[0] === '0' ? '1' : '0') + p.slice(1);
    expect(proofsMatch(p, flipped)).toBe(false);
    // multibyte input of the same character count but different byte length
    expect(proofsMatch('ab', 'aé')).toBe(false);
  });
});

describe('readSecretFile (real files)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncplay-auth-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  function secretFile(name: string, content: string, mode = 0o600): string {
    const f = path.join(dir, name);
    fs.writeFileSync(f, content);
    fs.chmodSync(f, mode);
    return f;
  }

  it('reads the first line, trimmed, and does not warn for a 0600 file', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const f = secretFile('ok', '  correct-horse-battery  \r\nsecond line ignored\n');
    expect(readSecretFile(f)).toBe('correct-horse-battery');
    expect(warn).not.toHaveBeenCalled();
  });

  it('accepts a secret of exactly 8 characters without a trailing newline', () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect(readSecretFile(secretFile('eight', '12345678'))).toBe('12345678');
  });

  it.each([
    ['short', 'short7!\n'],
    ['empty', ''],
    ['blank-first-line', '\nlong-enough-secret-on-line-two\n'],
    ['spaces', '   1234567   \n'],
  ])('refuses a too-short secret (%s)', (name, content) => {
    const f = secretFile(name, content);
    expect(() => readSecretFile(f)).toThrow(/at least 8 characters/);
    expect(() => readSecretFile(f)).toThrow(f);
  });

  it('explains how to create a missing secret file', () => {
    const f = path.join(dir, 'does-not-exist');
    let message = '';
    try {
      readSecretFile(f);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`cannot read secret file ${f}`);
    expect(message).toContain('Create one with');
    expect(message).toContain(`> ${f}`);
    expect(message).toContain(`chmod 600 ${f}`);
  });

  it('warns when the secret file is readable by other users', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const f = secretFile('open', 'a-long-enough-secret\n', 0o644);
    expect(readSecretFile(f)).toBe('a-long-enough-secret');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain(`chmod 600 ${f}`);
  });
});
