/**
 * MemberSession, the leader's side of one member's connection, over an in-memory socket in fake
 * time: the handshake (open and secured party), time exchanges answered in the shared clock, a
 * bad line, the rate limit, the handshake timeout and a member that goes away.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sharedMs } from '../../src/clock/time.js';
import { MemberSession, type SessionContext } from '../../src/leader/member-session.js';
import type { Logger } from '../../src/log/logger.js';
import { PartyAccess } from '../../src/party/party-access.js';
import { PROTOCOL_VERSION, PlaylistPages, leaderProof, memberProof, type LeaderMessage, type Timeline, type Track } from '../../src/protocol/index.js';
import { readLines, socketPair, type FakeSocket } from '../protocol/fake-socket.js';

const tracks: Track[] = [1, 2, 3].map((i) => ({ path: `t${i}.ogg`, hash: String(i).repeat(64), durationSec: 100, title: `T${i}` }));
const pages = new PlaylistPages(1, tracks);
const timeline = { seq: 3, state: 'playing', trackIndex: 1, positionSec: 0, at: 5000, repeat: 'off', playlistVersion: 1 } as Timeline;

function logRecorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = { lines, error: (m: string) => lines.push(`error ${m}`), warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`), debug: () => {}, child: () => log };
  return log as Logger & { lines: string[] };
}

interface Harness {
  session: MemberSession;
  member: FakeSocket;
  /** every line received, as sent (a tagged line is "<tag> <json>") */
  lines: string[];
  /** the messages of those lines */
  received: LeaderMessage[];
  send(m: Record<string, unknown>): void;
  joined: MemberSession[];
  left: MemberSession[];
  log: ReturnType<typeof logRecorder>;
  closed: Promise<void>;
}

/** A session on one end of a socket pair; the test plays the member on the other end. */
function open(secret: string | null = null, exchangePaceMs?: () => number | null): Harness {
  const [leaderEnd, member] = socketPair();
  const lines: string[] = [];
  const received: LeaderMessage[] = [];
  readLines(member, (line) => {
    lines.push(line);
    received.push(JSON.parse(line.startsWith('{') ? line : line.slice(line.indexOf(' ') + 1)) as LeaderMessage);
  });
  const log = logRecorder();
  const joined: MemberSession[] = [];
  const left: MemberSession[] = [];
  let shared = 1_000_000;
  const ctx: SessionContext = {
    access: new PartyAccess({ name: 'test party' }, secret, null, log),
    version: 'test',
    // The shared clock: a step of 0.25 ms at every reading, so t2 < t3 shows the order of the stamps.
    clock: () => sharedMs((shared += 0.25)),
    clockKind: 'monotonic',
    playlist: () => pages,
    timeline: () => timeline,
    log,
    onJoined: (s) => void joined.push(s),
    onLeft: (s) => void left.push(s),
    onCalibratorRequest: () => ({ ok: true }) as never,
    ...(exchangePaceMs ? { exchangePaceMs } : {}),
  };
  const session = new MemberSession(leaderEnd.asSocket, ctx);
  const closed = new Promise<void>((r) => member.once('close', () => r()));
  return { session, member, lines, received, send: (m) => member.write(JSON.stringify(m) + '\n'), joined, left, log, closed };
}

const settle = async (ms = 5): Promise<void> => void (await vi.advanceTimersByTimeAsync(ms));
const hello = (over: Record<string, unknown> = {}) => ({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'kitchen', clientNonce: 'c'.repeat(32), version: 'test', ...over });

describe('MemberSession', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'hrtime', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('greets, takes a hello, welcomes with the timeline and sends the playlist', async () => {
    const h = open();
    await settle();
    expect(h.received[0]).toMatchObject({ type: 'server-hello', protocol: PROTOCOL_VERSION, authRequired: false, clock: 'monotonic' });
    h.send(hello());
    await settle();
    expect(h.joined).toEqual([h.session]);
    expect(h.session.name).toBe('kitchen');
    const welcome = h.received.find((m) => m.type === 'welcome');
    expect(welcome).toMatchObject({ type: 'welcome', playlist: pages.info, timeline });
    expect(h.received.filter((m) => m.type === 'playlist-page').flatMap((m) => (m.type === 'playlist-page' ? m.tracks : []))).toEqual(tracks);
  });

  it('answers a time exchange in the shared clock, and only once joined', async () => {
    const h = open();
    await settle();
    h.send({ type: 'time-req', id: 1, t1: 42.5 });
    await settle();
    expect(h.received.some((m) => m.type === 'time-res')).toBe(false);
    h.send(hello());
    h.send({ type: 'time-req', id: 2, t1: 43.5 });
    await settle();
    const res = h.received.find((m) => m.type === 'time-res');
    expect(res).toMatchObject({ type: 'time-res', id: 2, t1: 43.5 });
    if (res?.type !== 'time-res') throw new Error('no time-res');
    // t2 stamped on arrival, t3 just before the write: consecutive readings of the shared clock.
    expect(res.t3 - res.t2).toBeCloseTo(0.25, 9);
    expect(res.t2).toBeGreaterThan(1_000_000);
  });

  it('a time reply carries the pace the leader asks for, and none when it asks for none or to a calibrator', async () => {
    let pace: number | null = 1500;
    const h = open(null, () => pace);
    await settle();
    h.send(hello());
    h.send({ type: 'time-req', id: 1, t1: 1 });
    await settle();
    pace = null;
    h.send({ type: 'time-req', id: 2, t1: 2 });
    await settle();
    const replies = h.received.filter((m) => m.type === 'time-res');
    expect(replies).toHaveLength(2);
    expect(replies[0]).toMatchObject({ id: 1, paceMs: 1500 });
    expect(replies[1]!.id).toBe(2);
    expect(replies[1]).not.toHaveProperty('paceMs');
    // A calibrator sends nothing but time requests to stay heard: it is never slowed down.
    const c = open(null, () => 1500);
    await settle();
    c.send(hello({ role: 'calibrator', name: 'cal' }));
    c.send({ type: 'time-req', id: 1, t1: 1 });
    await settle();
    const reply = c.received.find((m) => m.type === 'time-res');
    expect(reply).toMatchObject({ id: 1 });
    expect(reply).not.toHaveProperty('paceMs');
  });

  it('a bad line is answered with an error and counted; the member stays and is heard', async () => {
    const h = open();
    h.send(hello());
    await settle();
    h.member.write('{"type":"status","clockOffsetMs":"x"}\n');
    h.member.write('}{\n');
    h.send({ type: 'status', clockOffsetMs: 0.5, rttMs: 0.3, clockSkewPpm: 1, playerState: 'playing', errorMs: 0.1, speed: 1, trackIndex: 1, hardSeeks: 0, fileStatus: 'ok', fileProblems: [], latencyOffsetMs: 0, volume: 100, muted: false });
    await settle();
    expect(h.session.badInputCount).toBe(2);
    expect(h.received.filter((m) => m.type === 'error').length).toBe(2);
    // (The log lines about it share a budget across all connections, kept on the real clock: not asserted here.)
    expect(h.session.isOpen).toBe(true);
    // The valid status after the bad lines is taken.
    expect(h.session.lastStatus).toMatchObject({ type: 'status', errorMs: 0.1, trackIndex: 1 });
  });

  it('time requests beyond the rate limit are dropped and the member told once', async () => {
    const h = open();
    h.send(hello());
    await settle();
    for (let i = 0; i < 400; i++) h.send({ type: 'time-req', id: 100 + i, t1: i });
    await settle(20);
    const answered = h.received.filter((m) => m.type === 'time-res').length;
    expect(answered).toBeGreaterThanOrEqual(160);
    expect(answered).toBeLessThan(400);
    expect(h.received.filter((m) => m.type === 'error' && m.code === 'rate-limited')).toHaveLength(1);
    expect(h.session.limitedCount).toBe(400 - answered);
  });

  it('with a secret: a hello without the right proof is refused and closed; the right one is welcomed with the leader proof', async () => {
    const secret = 's'.repeat(43);
    const bad = open(secret);
    await settle();
    expect(bad.received[0]).toMatchObject({ type: 'server-hello', authRequired: true });
    bad.send(hello({ proof: 'f'.repeat(64) }));
    await settle(1100);
    await bad.closed;
    expect(bad.received.at(-1)).toMatchObject({ type: 'error', code: 'auth-failed' });
    expect(bad.joined).toEqual([]);

    const good = open(secret);
    await settle();
    const first = good.received[0];
    if (first?.type !== 'server-hello') throw new Error('no server-hello');
    good.send(hello({ proof: memberProof(secret, first.nonce, 'kitchen') }));
    await settle();
    expect(good.joined).toHaveLength(1);
    expect(good.session.authKind).toBe('secret');
    // From the welcome on, every line is tagged ("<tag> <json>"), and the welcome proves the leader knows the secret.
    const afterHello = good.lines.slice(1);
    expect(afterHello.length).toBeGreaterThan(1);
    for (const line of afterHello) expect(line).toMatch(/^[A-Za-z0-9_-]+ \{/);
    expect(good.received[1]).toMatchObject({ type: 'welcome', leaderProof: leaderProof(secret, 'c'.repeat(32)) });
  });

  it('closes a connection that sends no hello within the handshake timeout', async () => {
    const h = open();
    await settle(4900);
    expect(h.session.isOpen).toBe(true);
    await settle(1200);
    await h.closed;
    expect(h.received.at(-1)).toMatchObject({ type: 'error', code: 'handshake-timeout' });
    expect(h.left).toEqual([]);
  });

  it('a member that goes away is reported as left, once', async () => {
    const h = open();
    h.send(hello());
    await settle();
    h.member.destroy();
    await settle();
    expect(h.left).toEqual([h.session]);
    expect(h.session.isOpen).toBe(false);
  });
});
