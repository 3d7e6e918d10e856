import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlServer } from '../../src/leader/control-server.js';
import { Leader } from '../../src/leader/leader.js';
import { silentLogger } from '../../src/log/logger.js';
import type { Track } from '../../src/protocol/index.js';
import { eventSchema, stateSchema, tracksResultSchema } from '../../src/web/api.js';
import { WEB_LIMITS } from '../../src/web/limits.js';
import { WebServer } from '../../src/web/web-server.js';
import type { LeaderStatus } from '../../src/leader/leader.js';

const TOKEN = 'k'.repeat(43);

function track(i: number): Track {
  return { path: `music/t${i}.ogg`, hash: i.toString(16).padStart(64, '0'), durationSec: 100 + i, title: i === 2 ? '<img src=x onerror=alert(1)>' : `Song ${i}`, artist: `The ${['Red', 'Green', 'Blue'][i % 3]} Band` };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, method: string, path: string, o: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

describe('web server', () => {
  let leader: Leader;
  let web: WebServer;
  let handled: unknown[];
  const bearer = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  const rpc = (method: string, params?: unknown, headers: Record<string, string> = bearer): Promise<Reply> =>
    call(web.port, 'POST', '/api/v1/rpc', { headers, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, ...(params ? { params } : {}) }) });

  beforeEach(async () => {
    leader = new Leader({ host: '127.0.0.1', port: 0, tracks: Array.from({ length: 30 }, (_, i) => track(i + 1)), secret: 'correct horse battery staple', leadMs: 200, version: 'test', log: silentLogger, settingsFile: null });
    const control = new ControlServer(leader, '/nonexistent/never-started.sock', silentLogger);
    handled = [];
    web = new WebServer({
      source: { status: () => leader.status(), handle: (req) => (handled.push(req), control.handle(req)) },
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      log: silentLogger,
    });
    await web.start();
  });

  afterEach(async () => {
    await web.stop();
  });

  it('refuses the page and the API without the token', async () => {
    expect((await call(web.port, 'GET', '/')).status).toBe(401);
    expect((await call(web.port, 'GET', '/?token=wrong')).status).toBe(401);
    expect((await call(web.port, 'GET', '/api/v1/events')).status).toBe(401);
    const r = await rpc('next', undefined, { 'Content-Type': 'application/json', Authorization: 'Bearer nope' });
    expect(r.status).toBe(401);
    expect(handled).toEqual([]);
  });

  it('trades the token in the link for a strict, HttpOnly cookie and a redirect to /', async () => {
    const r = await call(web.port, 'GET', `/?token=${TOKEN}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toContain(`syncplay_web_${web.port}=${TOKEN}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await call(web.port, 'GET', '/', { headers: { Cookie: `syncplay_web_${web.port}=${TOKEN}` } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['access-control-allow-origin']).toBeUndefined();
    expect(page.body).toContain('<script src="/app.js"');
  });

  it('a cookie-authenticated POST must come from this origin', async () => {
    const cookie = `syncplay_web_${web.port}=${TOKEN}`;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'play' });
    const foreign = await call(web.port, 'POST', '/api/v1/rpc', { headers: { Cookie: cookie, 'Content-Type': 'application/json', Origin: 'http://evil.example', Host: `127.0.0.1:${web.port}` }, body });
    expect(foreign.status).toBe(403);
    const none = await call(web.port, 'POST', '/api/v1/rpc', { headers: { Cookie: cookie, 'Content-Type': 'application/json' }, body });
    expect(none.status).toBe(403);
    expect(handled).toEqual([]);
    const same = await call(web.port, 'POST', '/api/v1/rpc', { headers: { Cookie: cookie, 'Content-Type': 'application/json', Origin: `http://127.0.0.1:${web.port}` }, body });
    expect(same.status).toBe(200);
    expect(handled).toEqual([{ cmd: 'play' }]);
  });

  it('refuses a form post (not JSON) and a body over the limit', async () => {
    const form = await call(web.port, 'POST', '/api/v1/rpc', { headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'method=next' });
    expect(form.status).toBe(415);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'next', params: { pad: 'x'.repeat(WEB_LIMITS.maxBodyBytes) } });
    const big = await call(web.port, 'POST', '/api/v1/rpc', { headers: { ...bearer, 'Content-Length': String(Buffer.byteLength(body)) }, body });
    expect(big.status).toBe(413);
    expect(handled).toEqual([]);
  });

  it('a control method is the ctl request, through the same handler', async () => {
    const r = JSON.parse((await rpc('play', { track: 3 })).body);
    expect(r).toMatchObject({ jsonrpc: '2.0', id: 7, result: { ok: true } });
    expect(handled).toEqual([{ cmd: 'play', track: 3 }]);
    expect(leader.currentTimeline()).toMatchObject({ state: 'playing', trackIndex: 2 });
    await rpc('volume', { member: 'nobody', volume: 20 });
    expect(handled[1]).toEqual({ cmd: 'volume', member: 'nobody', volume: 20 });
  });

  it('party administration is not a remote method, and status leaves out the join code', async () => {
    for (const method of ['pair', 'forget']) expect(JSON.parse((await rpc(method, { member: 'x', new: true })).body).error.code).toBe(-32601);
    expect(handled).toEqual([]);
    const code = leader.status().party.pairing?.code;
    expect(code).toMatch(/\S/);
    const status = JSON.parse((await rpc('status')).body).result;
    expect(status.ok).toBe(true);
    expect(status.status.party).toMatchObject({ open: false });
    expect(JSON.stringify(status)).not.toContain(code);
    expect(status.status.party.pairing).toBeUndefined();
  });

  it('answers bad calls with JSON-RPC errors, and refusals with the leader\'s reason', async () => {
    expect(JSON.parse((await rpc('format-disk')).body).error.code).toBe(-32601);
    expect(JSON.parse((await rpc('seek', { seconds: 'soon' })).body).error.code).toBe(-32602);
    expect(JSON.parse((await call(web.port, 'POST', '/api/v1/rpc', { headers: bearer, body: '{oops' })).body).error.code).toBe(-32700);
    const refused = JSON.parse((await rpc('pause')).body);
    expect(refused.error).toMatchObject({ code: 1, message: expect.stringContaining('nothing to pause') });
  });

  it('state and tracks answer in the documented shapes; tracks searches and windows the playlist', async () => {
    const state = JSON.parse((await rpc('state')).body).result;
    expect(stateSchema.parse(state).trackCount).toBe(30);
    const all = tracksResultSchema.parse(JSON.parse((await rpc('tracks', { offset: 10, limit: 5 })).body).result);
    expect(all).toMatchObject({ total: 30, matches: 30, offset: 10 });
    expect(all.items.map((t) => t.number)).toEqual([11, 12, 13, 14, 15]);
    const found = tracksResultSchema.parse(JSON.parse((await rpc('tracks', { query: 'SONG blue' })).body).result);
    // i % 3 === 2 is Blue: tracks 2, 5, …, 29, less track 2 whose title is no "Song".
    expect(found.items.map((t) => t.number)).toEqual([5, 8, 11, 14, 17, 20, 23, 26, 29]);
    expect(found.matches).toBe(9);
    expect(JSON.parse((await rpc('tracks', { limit: 100_000 })).body).error.code).toBe(-32602);
  });

  it('streams a state event at once and another when a command changes the timeline', async () => {
    const events: unknown[] = [];
    const req = httpRequest({ host: '127.0.0.1', port: web.port, path: '/api/v1/events', headers: { Authorization: `Bearer ${TOKEN}` } });
    const got = new Promise<void>((resolve) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toMatch(/text\/event-stream/);
        onEvents(res, (event) => {
          events.push(event);
          if (events.length === 2) resolve();
        });
      });
    });
    req.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toHaveLength(1);
    const sent = performance.now();
    await rpc('next');
    await got;
    const latency = performance.now() - sent;
    expect((events[1] as { state: { timeline: { trackIndex: number } } }).state.timeline.trackIndex).toBe(1);
    expect(latency).toBeLessThan(WEB_LIMITS.eventRefreshMs);
    req.destroy();
  });

  it('rate-limits a flood from one address', async () => {
    // 3× the burst at once: only a refill over seconds could let them all through.
    const started = performance.now();
    const codes = await Promise.all(Array.from({ length: WEB_LIMITS.rateBurst * 3 }, () => call(web.port, 'GET', '/style.css').then((r) => r.status)));
    const seconds = (performance.now() - started) / 1000;
    const allowed = codes.filter((c) => c === 200).length;
    expect(codes.filter((c) => c === 429).length).toBe(codes.length - allowed);
    expect(allowed).toBeGreaterThanOrEqual(WEB_LIMITS.rateBurst);
    expect(allowed).toBeLessThanOrEqual(WEB_LIMITS.rateBurst + Math.ceil(seconds * WEB_LIMITS.ratePerSec) + 1);
    expect(allowed).toBeLessThan(codes.length);
  });
});

/** Each server-sent event's data, parsed by the documented schema, as its frame completes. */
function onEvents(res: IncomingMessage, onEvent: (event: unknown) => void): void {
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => {
    buf += d;
    let end: number;
    while ((end = buf.indexOf('\n\n')) !== -1) {
      const data = buf.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
      buf = buf.slice(end + 2);
      if (data) onEvent(eventSchema.parse(JSON.parse(data.slice(6))));
    }
  });
}

describe('web server, a large party', () => {
  it("compares member rows at most every memberRowsMs, yet shows a timeline change at once", async () => {
    const n = 200;
    let seq = 1;
    let calls = 0;
    // Every member's sync error moves on every status(), as 200 members reporting each second do.
    const status = (): LeaderStatus => {
      calls++;
      const timeline = { seq, state: 'playing', trackIndex: seq % 3, positionSec: 0, at: 1, repeat: 'off', playlistVersion: 1 };
      const members = Array.from({ length: n }, (_, i) => ({ id: String(i), name: `m${i}`, address: `127.0.0.1:${1000 + i}`, connected: true, clockOffsetMs: 0.1, rttMs: 0.2, clockSkewPpm: 0, errorMs: (calls % 97) / 1000 + i / 1e6, speed: 1, playerState: 'playing', fileStatus: 'ok', fileProblems: [], playlistVersion: 1, tracksReceived: 3, filesChecked: 3, filesTotal: 3, latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0, trackIndex: seq % 3, statusAgeMs: 100 }));
      return { now: 1, timeline, playhead: { state: 'playing', trackIndex: seq % 3, positionSec: 1 }, track: { path: 'a', hash: '0'.repeat(64), title: 'A', durationSec: 100 }, tracks: [], playlist: { version: 1, count: 3, durationSec: 300 }, scan: null, members, listening: { host: '127.0.0.1', port: 1 }, schedule: { nextStart: null, nextStop: null }, repeat: 'off', files: null, party: { name: 'p', id: null, open: true, pairing: null }, web: null } as unknown as LeaderStatus;
    };
    const web = new WebServer({ source: { status, handle: () => ({ ok: true }) }, host: '127.0.0.1', port: 0, token: TOKEN, log: silentLogger });
    await web.start();
    const frames: { at: number; seq: number }[] = [];
    const req = httpRequest({ host: '127.0.0.1', port: web.port, path: '/api/v1/events', headers: { Authorization: `Bearer ${TOKEN}` } });
    req.on('response', (res) => onEvents(res, (event) => frames.push({ at: performance.now(), seq: (event as { state: { timeline: { seq: number } } }).state.timeline.seq })));
    req.end();
    try {
      const window = WEB_LIMITS.memberRowsMs * 1.5;
      await new Promise((r) => setTimeout(r, window));
      // Rows changed on every tick (~15 ticks): the opening frame, then one per memberRowsMs at most.
      expect(frames.length).toBeGreaterThanOrEqual(1);
      expect(frames.length).toBeLessThanOrEqual(1 + Math.ceil(window / WEB_LIMITS.memberRowsMs));
      const before = frames.length;
      seq = 2;
      const changed = performance.now();
      while (!frames.some((f) => f.seq === 2) && performance.now() - changed < 5000) await new Promise((r) => setTimeout(r, 10));
      const frame = frames.find((f) => f.seq === 2);
      expect(frame).toBeDefined();
      expect(frames.length).toBe(before + 1);
      // At the next tick, not at the next member-row comparison (bounded loosely for a loaded machine).
      expect(frame!.at - changed).toBeLessThan(WEB_LIMITS.memberRowsMs);
    } finally {
      req.destroy();
      await web.stop();
    }
  });
});
