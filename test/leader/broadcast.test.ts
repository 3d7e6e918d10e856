/**
 * A command reaches every member, authenticated and in order: many real TCP members of a party
 * with a secret, each verifying every line's tag as a member does, while heartbeats go out often
 * enough to interleave with the commands' broadcasts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Leader } from '../../src/leader/leader.js';
import { silentLogger } from '../../src/log/logger.js';
import { LineAuth, memberProof, PROTOCOL_VERSION, sessionKeys, type Timeline, type Track } from '../../src/protocol/index.js';

const SECRET = 'broadcast-test-secret';
const tracks: Track[] = [1, 2, 3].map((i) => ({ path: `${i}.ogg`, hash: String(i).repeat(64), durationSec: 120, title: `T${i}` }));

/** A member on the wire: handshake with the proof, then every line from the leader verified. */
class TaggedMember {
  /** every timeline seen, in order of arrival, and by which message */
  readonly seen: { via: 'welcome' | 'timeline' | 'heartbeat'; timeline: Timeline }[] = [];
  verified = 0;
  failure: string | null = null;
  private auth: LineAuth | null = null;
  private buf = '';
  private readonly socket: Socket;
  private readonly nonce = randomBytes(16).toString('hex');
  readonly joined: Promise<void>;

  constructor(port: number, readonly name: string) {
    this.socket = connect({ host: '127.0.0.1', port });
    let joined!: () => void;
    let failed!: (e: Error) => void;
    this.joined = new Promise((resolve, reject) => ((joined = resolve), (failed = reject)));
    this.socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n')) {
        const raw = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const m = this.open(raw);
        if (m === null) return;
        if (m.type === 'server-hello') {
          const leaderNonce = String(m.nonce);
          this.socket.write(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, name, clientNonce: this.nonce, version: 'test', role: 'member', proof: memberProof(SECRET, leaderNonce, name) }) + '\n');
          this.auth = new LineAuth(sessionKeys(SECRET, leaderNonce, this.nonce, 'member'));
        } else if (m.type === 'welcome') {
          this.seen.push({ via: 'welcome', timeline: m.timeline as Timeline });
          joined();
        } else if (m.type === 'timeline' || m.type === 'heartbeat') {
          this.seen.push({ via: m.type, timeline: m.timeline as Timeline });
        } else if (m.type === 'error') {
          this.fail(`error from the leader: ${String(m.code)}`);
        }
      }
    });
    this.socket.on('error', (e) => this.fail(e.message));
    this.socket.on('close', () => {
      this.fail('closed');
      failed(new Error(`${name}: ${this.failure}`));
    });
  }

  /** The message of a line whose tag verified (untagged before the hello), or null after failing. */
  private open(raw: string): Record<string, unknown> | null {
    if (this.failure) return null;
    let json = raw;
    if (this.auth) {
      const opened = this.auth.open(raw);
      if (opened === null) {
        this.fail('a line failed its tag');
        return null;
      }
      this.verified += 1;
      json = opened;
    }
    return JSON.parse(json) as Record<string, unknown>;
  }

  private fail(why: string): void {
    this.failure ??= why;
    this.socket.destroy();
  }

  /** Timelines delivered by `timeline` messages, in order. */
  commanded(): Timeline[] {
    return this.seen.filter((s) => s.via === 'timeline').map((s) => s.timeline);
  }

  lastSeq(): number {
    return this.seen.at(-1)?.timeline.seq ?? -1;
  }

  stop(): void {
    this.failure ??= 'stopped';
    this.socket.destroy();
  }
}

async function until(what: string, f: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let leader: Leader | null = null;
const members: TaggedMember[] = [];
afterEach(async () => {
  for (const m of members.splice(0)) m.stop();
  await leader?.stop();
  leader = null;
});

async function party(n: number, heartbeatMs: number): Promise<Leader> {
  const l = new Leader({
    host: '127.0.0.1',
    port: 0,
    tracks,
    secret: SECRET,
    leadMs: 300,
    version: 'test',
    log: silentLogger,
    heartbeatMs,
    settingsFile: null,
    // Many members from one address joining at once, silent apart from the handshake.
    limits: { maxMembers: n, maxConnections: n + 8, maxPendingHandshakes: n, maxPendingPerAddress: n, silentAfterMs: 600_000, handshakeTimeoutMs: 60_000 },
  });
  leader = l;
  await l.start();
  for (let i = 0; i < n; i++) members.push(new TaggedMember(l.port, `m${String(i).padStart(3, '0')}`));
  await Promise.all(members.map((m) => m.joined));
  return l;
}

describe('broadcast to many members', () => {
  it('every member receives and verifies every command, in order, with heartbeats never going back', async () => {
    const n = 200;
    const l = await party(n, 20);
    const issued: Timeline[] = [];
    const run = (c: Parameters<Leader['command']>[0]): void => {
      const r = l.command(c);
      if (!r.ok) throw new Error(r.error);
      issued.push(r.timeline);
    };
    // Two back to back in one turn of the event loop, then others spread over heartbeats.
    run({ kind: 'play', trackIndex: 0 });
    run({ kind: 'seek', seconds: 10 });
    for (const c of [{ kind: 'next' }, { kind: 'pause' }, { kind: 'resume' }, { kind: 'prev' }] as const) {
      await new Promise((r) => setTimeout(r, 15));
      run(c);
    }
    const last = issued.at(-1)!.seq;
    await until('every member to hold the last timeline', () => members.every((m) => m.failure !== null || m.lastSeq() === last));
    // Let a few more heartbeats arrive: they must repeat the last timeline, not an older one.
    await new Promise((r) => setTimeout(r, 100));

    for (const m of members) {
      expect(m.failure, m.name).toBeNull();
      // Every command's timeline arrived, exactly as decided, once, in the order issued.
      expect(m.commanded(), m.name).toEqual(issued);
      // Nothing (heartbeats included) ever showed a timeline older than one already seen.
      const seqs = m.seen.map((s) => s.timeline.seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `${m.name} message ${i}`).toBeGreaterThanOrEqual(seqs[i - 1]!);
      expect(m.seen.at(-1)!.timeline).toEqual(l.currentTimeline());
      expect(m.verified).toBeGreaterThan(issued.length);
    }
  }, 60_000);
});
