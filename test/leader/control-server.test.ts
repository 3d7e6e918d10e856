import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlServer, controlRequestSchema, toCommand } from '../../src/leader/control-server.js';
import { monotonicMs } from '../../src/clock/monotonic.js';
import { Leader } from '../../src/leader/leader.js';
import { silentLogger } from '../../src/log/logger.js';
import type { Track } from '../../src/protocol/index.js';

function track(i: number, durationSec: number): Track {
  return { path: `music/t${i}.mp3`, hash: (i * 0x1111).toString(16).padStart(64, 'a'), durationSec, title: `Song ${i}` };
}

const tracks: Track[] = [track(1, 180), track(2, 200), track(3, 90)];

describe('controlRequestSchema', () => {
  it('accepts the documented requests', () => {
    const ok = [
      { cmd: 'play' },
      { cmd: 'play', track: 2 },
      { cmd: 'pause' },
      { cmd: 'resume' },
      { cmd: 'stop' },
      { cmd: 'next' },
      { cmd: 'prev' },
      { cmd: 'seek', seconds: 30 },
      { cmd: 'seek', seconds: -10, relative: true },
      { cmd: 'status' },
    ];
    for (const r of ok) expect(controlRequestSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);
  });

  it('refuses malformed requests', () => {
    const bad = [
      {},
      { cmd: 'bogus' },
      { cmd: 'play', track: 0 },
      { cmd: 'play', track: 1.5 },
      { cmd: 'play', track: '2' },
      { cmd: 'seek' },
      { cmd: 'seek', seconds: '30' },
      { cmd: 'seek', seconds: 30, relative: 'yes' },
    ];
    for (const r of bad) expect(controlRequestSchema.safeParse(r).success, JSON.stringify(r)).toBe(false);
  });
});

describe('toCommand', () => {
  it('maps requests to leader commands (tracks are 1-based on the socket, 0-based inside)', () => {
    expect(toCommand({ cmd: 'play' })).toEqual({ kind: 'play' });
    expect(toCommand({ cmd: 'play', track: 3 })).toEqual({ kind: 'play', trackIndex: 2 });
    expect(toCommand({ cmd: 'seek', seconds: 30 })).toEqual({ kind: 'seek', seconds: 30, relative: false });
    expect(toCommand({ cmd: 'seek', seconds: -5, relative: true })).toEqual({ kind: 'seek', seconds: -5, relative: true });
    for (const cmd of ['pause', 'resume', 'stop', 'next', 'prev'] as const) expect(toCommand({ cmd })).toEqual({ kind: cmd });
  });

  it('status is not a command', () => {
    expect(toCommand({ cmd: 'status' })).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// A real leader and a real unix socket
// ---------------------------------------------------------------------------

type Reply = { ok: boolean; error?: string; [k: string]: unknown };

/** Sends raw text on a fresh connection and collects `count` reply lines. */
async function talk(socketPath: string, text: string | Buffer, count = 1): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const replies: Reply[] = [];
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${replies.length} of ${count} replies`));
    }, 5000);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        replies.push(JSON.parse(buffer.slice(0, nl)) as Reply);
        buffer = buffer.slice(nl + 1);
      }
      if (replies.length >= count) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function ask(socketPath: string, request: unknown): Promise<Reply> {
  return (await talk(socketPath, JSON.stringify(request) + '\n'))[0]!;
}

/** Leaves a unix socket file behind with nobody listening: a leader that was killed. */
function makeStaleSocket(file: string): void {
  const script = `require('net').createServer().listen(${JSON.stringify(file)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script], { timeout: 10_000 });
}

describe('ControlServer on a unix socket', () => {
  let dir: string;
  let sockPath: string;
  let leader: Leader;
  let servers: ControlServer[];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spctl-'));
    sockPath = path.join(dir, 'run', 'leader.sock');
    leader = new Leader({ host: '127.0.0.1', port: 0, tracks, secret: null, leadMs: 100, version: 'test', log: silentLogger });
    await leader.start();
    servers = [];
  });

  afterEach(async () => {
    for (const s of servers) await s.stop().catch(() => {});
    await leader.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function startServer(p = sockPath): Promise<ControlServer> {
    const server = new ControlServer(leader, p, silentLogger);
    servers.push(server);
    await server.start();
    return server;
  }

  it('creates the socket 0600 in a new 0700 folder', async () => {
    await startServer();
    const st = fs.statSync(sockPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(sockPath)).mode & 0o777).toBe(0o700);
  });

  it('answers status with the leader state', async () => {
    await startServer();
    const r = await ask(sockPath, { cmd: 'status' });
    expect(r.ok).toBe(true);
    const status = r.status as { timeline: { state: string; seq: number }; tracks?: Track[]; playlist: { count: number; version: number }; listening: { host: string; port: number }; members: unknown[]; playhead: { state: string } };
    expect(status.timeline).toMatchObject({ state: 'stopped', seq: 0 });
    expect(status.playhead.state).toBe('stopped');
    // A summary by default; the track list only when asked for.
    expect(status.tracks).toBeUndefined();
    expect(status.playlist).toMatchObject({ count: 3, version: 1 });
    const full = await ask(sockPath, { cmd: 'status', tracks: true });
    expect((full.status as { tracks: Track[] }).tracks.map((t) => t.title)).toEqual(leader.tracks.map((t) => t.title));
    expect((full.status as { tracks: Track[] }).tracks).toHaveLength(3);
    expect(status.listening).toEqual({ host: '127.0.0.1', port: leader.port });
    expect(leader.port).toBeGreaterThan(0);
    expect(status.members).toEqual([]);
  });

  it('play and pause change the leader timeline', async () => {
    await startServer();
    const played = await ask(sockPath, { cmd: 'play' });
    expect(played).toMatchObject({ ok: true, timeline: { seq: 1, state: 'playing', trackIndex: 0, positionSec: 0 } });
    expect(played.description).toMatch(/^playing track 1\/3 "Song 1" at 0\.00 s$/);
    expect(leader.currentTimeline()).toMatchObject({ seq: 1, state: 'playing', trackIndex: 0 });

    const paused = await ask(sockPath, { cmd: 'pause' });
    expect(paused).toMatchObject({ ok: true, timeline: { seq: 2, state: 'paused', trackIndex: 0 } });
    const pausedAt = (paused.timeline as { positionSec: number }).positionSec;
    expect(pausedAt).toBeGreaterThanOrEqual(0);
    expect(pausedAt).toBeLessThan(30); // generous: the two requests are moments apart
    expect(leader.currentTimeline()).toMatchObject({ seq: 2, state: 'paused' });

    const status = await ask(sockPath, { cmd: 'status' });
    expect((status.status as { timeline: { seq: number } }).timeline.seq).toBe(2);
  });

  it('a command takes effect about leadMs in the future', async () => {
    await startServer();
    const before = monotonicMs();
    const r = await ask(sockPath, { cmd: 'play', track: 2 });
    const t = r.timeline as { at: number; trackIndex: number };
    expect(t.trackIndex).toBe(1);
    expect(t.at).toBeGreaterThanOrEqual(before + 100);
    expect(t.at).toBeLessThan(before + 100 + 5000);
  });

  it('a refused command answers ok:false with the reason', async () => {
    await startServer();
    expect(await ask(sockPath, { cmd: 'pause' })).toEqual({ ok: false, error: 'nothing to pause (the timeline is stopped)' });
    expect(await ask(sockPath, { cmd: 'play', track: 9 })).toEqual({ ok: false, error: 'no track 9: the playlist has 3 tracks' });
    expect(leader.currentTimeline().seq).toBe(0);
  });

  it('a malformed request gets {ok:false,error} and the connection keeps working', async () => {
    await startServer();
    const replies = await talk(sockPath, 'this is not json\n[1]\n{"cmd":"status"}\n', 3);
    expect(replies[0]!.ok).toBe(false);
    expect(replies[0]!.error).toMatch(/not valid JSON/);
    expect(replies[1]).toEqual({ ok: false, error: 'a message must be a JSON object' });
    expect(replies[2]!.ok).toBe(true);
    expect(leader.currentTimeline().seq).toBe(0);
  });

  it('an unknown command is named in the error', async () => {
    await startServer();
    const r = await ask(sockPath, { cmd: 'bogus' });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('unknown command "bogus"');
  });

  it('a request with a bad field says which field, without "undefined" noise', async () => {
    await startServer();
    const r = await ask(sockPath, { cmd: 'seek', seconds: 'thirty' });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('seconds');
    expect(r.error).not.toContain('undefined');
  });

  it('several requests in one write are answered in order', async () => {
    await startServer();
    const replies = await talk(sockPath, '{"cmd":"play"}\n{"cmd":"status"}\r\n{"cmd":"stop"}\n', 3);
    expect(replies.map((r) => r.ok)).toEqual([true, true, true]);
    expect(replies[0]!.timeline).toMatchObject({ state: 'playing' });
    expect(replies[2]!.timeline).toMatchObject({ state: 'stopped', seq: 2 });
  });

  it('an oversized request is refused and the next one still answered', async () => {
    await startServer();
    const huge = JSON.stringify({ cmd: 'status', pad: 'x'.repeat(70 * 1024) });
    const replies = await talk(sockPath, huge + '\n{"cmd":"status"}\n', 2);
    expect(replies[0]).toEqual({ ok: false, error: 'request too long' });
    expect(replies[1]!.ok).toBe(true);
  });

  it('a second control server on the live path refuses, mentioning another leader', async () => {
    await startServer();
    const second = new ControlServer(leader, sockPath, silentLogger);
    await expect(second.start()).rejects.toThrow(/another leader/);
    await expect(second.start()).rejects.toThrow(sockPath);
    // the first one is untouched
    expect(fs.statSync(sockPath).isSocket()).toBe(true);
    expect((await ask(sockPath, { cmd: 'status' })).ok).toBe(true);
  });

  it('replaces a stale socket file left by a leader that died', async () => {
    fs.mkdirSync(path.dirname(sockPath), { recursive: true, mode: 0o700 });
    makeStaleSocket(sockPath);
    expect(fs.lstatSync(sockPath).isSocket()).toBe(true);
    await expect(talk(sockPath, '{"cmd":"status"}\n')).rejects.toThrow(/ECONNREFUSED/);

    await startServer();
    expect((await ask(sockPath, { cmd: 'status' })).ok).toBe(true);
    expect(fs.statSync(sockPath).mode & 0o777).toBe(0o600);
  });

  it('does not delete a regular file that sits where the socket should go', async () => {
    fs.mkdirSync(path.dirname(sockPath), { recursive: true, mode: 0o700 });
    fs.writeFileSync(sockPath, 'precious data\n');
    const server = new ControlServer(leader, sockPath, silentLogger);
    try {
      await server.start();
      servers.push(server);
    } catch {
      /* refusing is fine */
    }
    expect(fs.lstatSync(sockPath).isFile()).toBe(true);
    expect(fs.readFileSync(sockPath, 'utf8')).toBe('precious data\n');
  });

  it('stop() removes the socket file, and a new server can start on the path', async () => {
    const first = await startServer();
    await first.stop();
    expect(fs.existsSync(sockPath)).toBe(false);
    await startServer();
    expect((await ask(sockPath, { cmd: 'status' })).ok).toBe(true);
  });
});
