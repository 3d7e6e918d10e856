/**
 * LeaderLink against a scripted leader over in-memory sockets, in fake time (timers and the
 * monotonic clock): the handshake, the clock estimate from time exchanges, a bad line, a lost
 * leader and the reconnection.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { monotonicMs } from '../../src/clock/monotonic.js';
import type { Logger } from '../../src/log/logger.js';
import { LeaderLink } from '../../src/member/leader-link.js';
import { PROTOCOL_VERSION, type LeaderMessage, type MemberMessage, type Timeline } from '../../src/protocol/index.js';
import { readLines, socketPair, type FakeSocket } from '../protocol/fake-socket.js';
import { seededRandom } from '../../bench/seeded-random.js';
import { TIME_EXCHANGE } from '../../src/member/time-exchange.js';

/** The leader's clock runs this far ahead of the member's monotonic clock. */
const OFFSET_MS = 12_345.678;
/** one-way delay the fake leader adds to every time reply, ms (symmetric: the estimate is unbiased) */
const ONE_WAY_MS = 2;

const playlist = { version: 1, count: 3, digest: 'ab'.repeat(32) };
const timeline = (seq: number, at: number): Timeline => ({ seq, state: 'playing', trackIndex: 0, positionSec: 0, at, repeat: 'off', playlistVersion: 1 }) as Timeline;

function logRecorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = {
    lines,
    error: (m: string) => lines.push(`error ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    info: (m: string) => lines.push(`info ${m}`),
    debug: () => {},
    child: () => log,
  };
  return log as Logger & { lines: string[] };
}

/** A leader that speaks just enough of the protocol: hello → welcome, time-req → time-res. */
class ScriptedLeader {
  readonly connections: { socket: FakeSocket; received: MemberMessage[] }[] = [];
  answerTime = true;
  /** the pace put in every time reply (null: none, as in a small party) */
  paceMs: number | null = null;
  /** extra delay of each time reply, ms (a noisy link: queueing on the way back) */
  replyJitterMs: () => number = () => 0;

  connect = (): import('node:net').Socket => {
    const [member, leader] = socketPair();
    const c = { socket: leader, received: [] as MemberMessage[] };
    this.connections.push(c);
    readLines(leader, (line) => {
      const m = JSON.parse(line) as MemberMessage;
      c.received.push(m);
      if (m.type === 'hello') this.send(leader, { type: 'welcome', memberId: 'm1', playlist, timeline: timeline(1, this.now()) });
      if (m.type === 'time-req' && this.answerTime) {
        // Reply after ONE_WAY_MS, stamped as the leader's clock reads on arrival and departure.
        const t2 = this.now() + ONE_WAY_MS;
        const pace = this.paceMs === null ? {} : { paceMs: this.paceMs };
        setTimeout(() => this.send(leader, { type: 'time-res', id: m.id, t1: m.t1, t2, t3: t2, ...pace }), 2 * ONE_WAY_MS + this.replyJitterMs());
      }
    });
    this.send(leader, { type: 'server-hello', protocol: PROTOCOL_VERSION, nonce: 'n'.repeat(32), authRequired: false, version: 'test', clock: 'monotonic' });
    return member.asSocket;
  };

  now(): number {
    return monotonicMs() + OFFSET_MS;
  }

  send(socket: FakeSocket, m: LeaderMessage | Record<string, unknown>): void {
    socket.write(JSON.stringify(m) + '\n');
  }

  get last(): { socket: FakeSocket; received: MemberMessage[] } {
    return this.connections[this.connections.length - 1]!;
  }
}

/** Advances fake time in small steps, letting the in-memory sockets (next ticks) deliver between them. */
async function advance(ms: number, stepMs = 1): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) await vi.advanceTimersByTimeAsync(stepMs);
}

describe('LeaderLink', () => {
  let link: LeaderLink;
  let leader: ScriptedLeader;
  let log: ReturnType<typeof logRecorder>;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'hrtime', 'performance', 'Date'] });
    leader = new ScriptedLeader();
    log = logRecorder();
    link = new LeaderLink({ host: 'leader.test', port: 1, name: 'm1', secret: null, version: 'test', log, status: () => ({ playerState: 'idle', errorMs: null, speed: null }) as never, connect: leader.connect });
  });

  afterEach(() => {
    link.stop();
    vi.useRealTimers();
  });

  it('joins, and estimates the leader clock from the time exchanges', async () => {
    const welcomed = vi.fn();
    link.on('welcome', welcomed);
    link.start();
    await advance(10);
    expect(link.isJoined).toBe(true);
    expect(welcomed).toHaveBeenCalledTimes(1);
    const hello = leader.last.received.find((m) => m.type === 'hello');
    expect(hello).toMatchObject({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'm1' });
    // The joining burst: 20 exchanges 40 ms apart, each a chain of 4.
    await advance(1000, 4);
    const requests = leader.last.received.filter((m) => m.type === 'time-req');
    expect(requests.length).toBeGreaterThanOrEqual(20);
    const clock = link.readyClock;
    expect(clock).not.toBeNull();
    const now = monotonicMs();
    expect(Math.abs(clock!.toShared(now) - (now + OFFSET_MS))).toBeLessThan(0.01);
    expect(clock!.rttMs).toBeCloseTo(2 * ONE_WAY_MS, 1);
  });

  it('after the burst it chains 8 times a second while its estimate is young, then twice a second, or at the slower pace its leader asks for, bounded', async () => {
    /** time requests that start a chain (not sent as the previous reply arrived) from `from` ms on */
    const chainStarts = (from: number): number[] => {
      const t1s = leader.last.received.flatMap((m) => (m.type === 'time-req' && m.t1 >= from ? [m.t1] : []));
      return t1s.filter((t, i) => i === 0 || t - t1s[i - 1]! > 3 * 2 * ONE_WAY_MS);
    };
    const gaps = (starts: number[]): number[] => starts.slice(1).map((t, i) => Math.round(t - starts[i]!));
    link.start();
    await advance(1200, 4);
    let from: number = monotonicMs();
    await advance(1000, 4);
    // A young estimate (its window spans < 2 min): 8 chains a second.
    expect(gaps(chainStarts(from))).toEqual(Array(7).fill(125));
    expect(link.chainSpacingMs()).toBe(125);
    await advance(TIME_EXCHANGE.youngSpanMs - 2000, 20);
    expect(link.clock.spanMs).toBeLessThan(TIME_EXCHANGE.youngSpanMs);
    await advance(2000, 4);
    expect(link.clock.spanMs).toBeGreaterThanOrEqual(TIME_EXCHANGE.youngSpanMs);
    from = monotonicMs() as number + 600;
    await advance(3600, 4);
    // A small party: no pace in the replies, the member's own 2 Hz.
    expect(gaps(chainStarts(from))).toEqual(Array(5).fill(500));
    expect(link.chainSpacingMs()).toBe(500);
    leader.paceMs = 1500;
    await advance(600, 4);
    from = monotonicMs();
    await advance(6100, 4);
    expect(gaps(chainStarts(from))).toEqual([1500, 1500, 1500]);
    // Every request of a chain is still sent: 4 per chain.
    expect(leader.last.received.filter((m) => m.type === 'time-req' && m.t1 >= from).length).toBe(4 * chainStarts(from).length);
    // Slower than 2 s is not followed (a member must keep its clock fresh and stay heard).
    leader.paceMs = 60_000;
    await advance(1600, 4);
    from = monotonicMs();
    await advance(8100, 4);
    expect(gaps(chainStarts(from))).toEqual([2000, 2000, 2000]);
    // A pace faster than the member's own rate does not speed it up.
    leader.paceMs = 100;
    await advance(2100, 4);
    expect(link.chainSpacingMs()).toBe(500);
    expect(link.readyClock).not.toBeNull();
  });

  it('on a noisy link it sends single exchanges, evenly spaced by its chain spacing over 4 or by the round-trip spread, and still follows its leader\'s pace', async () => {
    const rnd = seededRandom(7);
    let jitterMs = 20;
    // Replies delayed by 0–20 ms more (uniform): round trips spread ~10 ms around their fastest.
    leader.replyJitterMs = () => jitterMs * rnd();
    link.start();
    await advance(3000, 4);
    expect(link.clock.rttSpreadMs).toBeGreaterThan(2);
    expect(link.clock.rttSpreadMs).toBeLessThan(1000 / TIME_EXCHANGE.noisyHz / 4);
    expect(link.chainSpacingMs()).toBeCloseTo(1000 / TIME_EXCHANGE.noisyHz, 6);
    const requestTimes = (from: number): number[] => leader.last.received.flatMap((m) => (m.type === 'time-req' && m.t1 >= from ? [m.t1] : []));
    const gaps = (ts: number[]): number[] => ts.slice(1).map((t, i) => t - ts[i]!);
    let from: number = monotonicMs();
    await advance(2000, 1);
    // One every 1000 / 12 / 4 ≈ 20.8 ms (a timer and the 1 ms steps may add ~1 ms), none sent as a reply arrived.
    let g = gaps(requestTimes(from));
    expect(g.length).toBeGreaterThanOrEqual(88);
    expect(Math.min(...g)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...g)).toBeLessThanOrEqual(23);
    // Round trips spread over ~50 ms: spaced by the spread instead (fewer requests queue behind the one before).
    jitterMs = 100;
    await advance(4000, 4);
    const spread = link.clock.rttSpreadMs;
    expect(spread).toBeGreaterThan(25);
    from = monotonicMs();
    await advance(2000, 4);
    g = gaps(requestTimes(from));
    expect(Math.min(...g)).toBeGreaterThanOrEqual(Math.min(spread, 1000 / TIME_EXCHANGE.noisyHz) * 0.7);
    expect(g.length).toBeLessThan(2000 / 21);
    leader.paceMs = 1000;
    await advance(600, 4);
    expect(link.chainSpacingMs()).toBe(1000);
    from = monotonicMs();
    await advance(3000, 4);
    g = gaps(requestTimes(from));
    expect(g.every((x) => x >= 249 && x <= 256)).toBe(true);
    // The estimate keeps its quality: the fastest replies (jitter near 0) pin the offset.
    const now = monotonicMs();
    expect(Math.abs(link.readyClock!.toShared(now) - (now + OFFSET_MS))).toBeLessThan(0.5);
  });

  it('a bad line from the leader is reported and answered, and the link carries on', async () => {
    const timelines: Timeline[] = [];
    link.on('timeline', (t) => timelines.push(t));
    link.start();
    await advance(500, 4);
    expect(link.isJoined).toBe(true);
    leader.last.socket.write('{"type":"timeline","timeline":{"seq":"x"\n');
    leader.last.socket.write('not json at all\n');
    leader.send(leader.last.socket, { type: 'timeline', timeline: timeline(2, leader.now() + 500) });
    await advance(10);
    expect(log.lines.filter((l) => l.startsWith('warn bad input from leader')).length).toBe(2);
    // The member tells the leader what was wrong with its line.
    expect(leader.last.received.filter((m) => m.type === 'error').length).toBe(2);
    expect(link.isJoined).toBe(true);
    expect(timelines.map((t) => t.seq)).toEqual([2]);
  });

  it('after losing the leader it reconnects with backoff, rejoins and keeps its clock meanwhile', async () => {
    const events: string[] = [];
    link.on('connected', () => events.push('connected'));
    link.on('disconnected', (why) => events.push(`disconnected: ${why}`));
    link.start();
    await advance(1000, 4);
    const clockBefore = link.readyClock;
    expect(clockBefore).not.toBeNull();
    leader.last.socket.destroy();
    await advance(10);
    expect(events).toEqual(['connected', 'disconnected: connection closed']);
    expect(link.isJoined).toBe(false);
    // Still playing by the estimate it had.
    expect(link.readyClock).toBe(clockBefore);
    // First retry after a joined connection ends: 200 ms ± 50 % (reconnect-backoff.ts), so in
    // [100, 300) ms after the loss. At 90 ms none has happened; by 330 ms one has.
    await advance(80, 10);
    expect(leader.connections).toHaveLength(1);
    await advance(240, 10);
    expect(leader.connections).toHaveLength(2);
    expect(events.at(-1)).toBe('connected');
    expect(link.isJoined).toBe(true);
    // A fresh estimate takes over once it is ready; until then the old one stays in use.
    await advance(1000, 4);
    const now = monotonicMs();
    expect(link.readyClock).not.toBe(clockBefore);
    expect(Math.abs(link.readyClock!.toShared(now) - (now + OFFSET_MS))).toBeLessThan(0.01);
  });

  it('a leader gone silent is dropped after 5 s and tried again', async () => {
    link.start();
    await advance(1000, 4);
    leader.answerTime = false;
    const before = leader.connections.length;
    await advance(7000, 50);
    expect(log.lines.some((l) => l.includes('leader silent for 5 s'))).toBe(true);
    expect(leader.connections.length).toBeGreaterThan(before);
  });
});
