/**
 * The leader's terminal UI, rendered with ink-testing-library: what it shows for members in
 * every state, which ControlRequest each key sends, and (with a real Leader and ControlServer)
 * that the keys really drive the timeline.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { render } from 'ink-testing-library';
import { createElement as h } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlServer, type ControlRequest } from '../../../src/leader/control-server.js';
import { Leader, type LeaderStatus, type MemberView } from '../../../src/leader/leader.js';
import { clock, memberHealth, ms, progressBar, windowAround } from '../../../src/leader/ui/format.js';
import { keyIntent, playPauseRequest } from '../../../src/leader/ui/keys.js';
import { hintLines, LeaderApp, LiveLeaderApp } from '../../../src/leader/ui/leader-app.js';
import type { ProgressView } from '../../../src/playlist/progress.js';
import { LogBuffer } from '../../../src/leader/ui/log-buffer.js';
import { qrLines } from '../../../src/leader/ui/qr.js';
import { silentLogger } from '../../../src/log/logger.js';
import { sharedMs } from '../../../src/clock/time.js';
import type { Timeline, Track } from '../../../src/protocol/index.js';
import { playheadAt } from '../../../src/protocol/index.js';

const ESC = '\u001B';
const KEY = { up: `${ESC}[A`, down: `${ESC}[B`, right: `${ESC}[C`, left: `${ESC}[D` };

const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));
// eslint-disable-next-line no-control-regex
const plain = (s: string | undefined): string => (s ?? '').replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '');

function track(i: number, durationSec: number, title = `Song ${i}`, artist?: string): Track {
  return { path: `music/t${i}.ogg`, hash: (i * 0x1111).toString(16).padStart(64, 'a'), durationSec, title, ...(artist ? { artist } : {}) };
}

const TRACKS: Track[] = [track(1, 180, 'Morning Drift', 'The Examples'), track(2, 200, 'Harbour Lights'), track(3, 90, 'Paper Lanterns')];

function member(name: string, over: Partial<MemberView> = {}): MemberView {
  return {
    id: name,
    name,
    address: `192.168.1.${10 + name.length}:5${name.length}000`,
    connected: true,
    clockOffsetMs: 0.412,
    rttMs: 0.9,
    clockSkewPpm: 1.5,
    errorMs: 0.2,
    speed: 1.00001,
    playerState: 'playing',
    fileStatus: 'ok',
    fileProblems: [],
    latencyOffsetMs: null,
    volume: 100,
    muted: false,
    hardSeeks: 0,
    trackIndex: 1,
    playlistVersion: 1,
    tracksReceived: null,
    filesChecked: null,
    filesTotal: null,
    statusAgeMs: 300,
    ...over,
  };
}

/** A status with the timeline in `state` on track 2 at 65 s. */
function status(state: Timeline['state'], members: MemberView[] = [], over: Partial<LeaderStatus> = {}): LeaderStatus {
  const now = 1_000_000;
  const timeline: Timeline = { seq: 4, state, trackIndex: 1, positionSec: 65, at: sharedMs(now - 1), repeat: 'off', playlistVersion: 1 };
  const playhead = playheadAt(timeline, TRACKS, sharedMs(now));
  return {
    now,
    timeline,
    playhead,
    track: TRACKS[playhead.trackIndex] ?? null,
    tracks: TRACKS,
    playlist: { version: 1, count: TRACKS.length, durationSec: TRACKS.reduce((sum, t) => sum + t.durationSec, 0) },
    scan: null,
    members,
    listening: { host: '0.0.0.0', port: 7600 },
    schedule: { nextStart: null, nextStop: null },
    repeat: timeline.repeat,
    party: { name: 'test party', id: null, open: false, pairing: null },
    web: null,
    ...over,
  };
}

const EVERY_STATE: MemberView[] = [
  member('in-sync', { errorMs: 0.21, speed: 1.00002 }),
  member('correcting', { errorMs: -4.5, speed: 0.997 }),
  member('gone', { connected: false, errorMs: null, speed: null, playerState: 'paused' }),
  member('no-file', { fileStatus: 'missing', fileProblems: [{ index: 1, status: 'missing' }], playerState: 'silent', errorMs: null }),
  member('quiet', { muted: true, latencyOffsetMs: 12 }),
  member('wrong-file', { fileStatus: 'different', fileProblems: [{ index: 1, status: 'different' }, { index: 2, status: 'different' }], playerState: 'silent', errorMs: null }),
];

function rowOf(frame: string, name: string): string {
  const row = frame.split('\n').find((l) => l.includes(` ${name} `));
  if (!row) throw new Error(`no row for ${name} in\n${frame}`);
  return row;
}

let unmounts: (() => void)[] = [];
afterEach(() => {
  for (const u of unmounts.splice(0)) u();
});

function mount(props: Parameters<typeof LeaderApp>[0]) {
  const r = render(h(LeaderApp, { width: 100, height: 40, ...props }));
  unmounts.push(r.unmount);
  return r;
}

describe('format helpers', () => {
  it('writes times and milliseconds compactly', () => {
    expect(clock(65)).toBe('1:05');
    expect(clock(3725)).toBe('1:02:05');
    expect(ms(0.4123, true)).toBe('+0.412');
    expect(ms(-12.345)).toBe('-12.35');
    expect(ms(123456)).toBe('123s');
    expect(ms(null)).toBe('—');
    expect(progressBar(0.5, 10)).toEqual({ done: '━━━━━', rest: '─────' });
    expect(windowAround(50, 100, 5)).toEqual({ start: 48, end: 53 });
    expect(windowAround(0, 100, 5)).toEqual({ start: 0, end: 5 });
    expect(windowAround(99, 100, 5)).toEqual({ start: 95, end: 100 });
  });

  it('colours members by what they need: green in sync, yellow correcting, red problems', () => {
    const [inSync, correcting, gone, noFile, quiet, wrong] = EVERY_STATE;
    expect(memberHealth(inSync!)).toBe('sync');
    expect(memberHealth(correcting!)).toBe('correcting');
    expect(memberHealth(member('fast', { errorMs: 0.1, speed: 1.0002 }))).toBe('correcting');
    expect(memberHealth(member('arming', { playerState: 'armed', errorMs: null }))).toBe('correcting');
    expect(memberHealth(member('loading', { playerState: 'loading', errorMs: null }))).toBe('correcting');
    expect(memberHealth(gone!)).toBe('problem');
    expect(memberHealth(noFile!)).toBe('problem');
    expect(memberHealth(wrong!)).toBe('problem');
    expect(memberHealth(member('refused', { fileStatus: 'refused' }))).toBe('problem');
    expect(memberHealth(quiet!)).toBe('sync');
    expect(memberHealth(member('paused', { playerState: 'paused', errorMs: null }))).toBe('idle');
  });
});

describe('<LeaderApp> frames', () => {
  it('shows now playing, the playlist, repeat, and every member with its numbers', () => {
    const { lastFrame } = mount({ status: status('playing', EVERY_STATE), logs: ['12:00:00.000 INFO  hello from the log'], onAction: () => ({ ok: true }), onQuit: () => {} });
    const f = plain(lastFrame());
    expect(f).toContain('▶ PLAYING');
    expect(f).toContain('Harbour Lights');
    expect(f).toContain('1:05'); // position
    expect(f).toContain('3:20'); // duration of track 2
    expect(f).toContain('next 3. Paper Lanterns');
    expect(f).toContain('repeat off');
    expect(f).toContain('2/3');
    expect(f).toMatch(/▶ 2 Harbour Lights/); // the current item is marked in the playlist
    expect(f).toContain('all members (5)');
    expect(f).toContain('hello from the log');

    expect(rowOf(f, 'in-sync')).toMatch(/playing\s+\+0\.412\s+0\.900\s+\+0\.210\s+1\.00002\s+ok\s+100/);
    expect(rowOf(f, 'in-sync')).toContain('192.168.1.17');
    expect(rowOf(f, 'correcting')).toMatch(/-4\.500\s+0\.99700/);
    expect(rowOf(f, 'gone')).toContain('LOST');
    expect(rowOf(f, 'no-file')).toMatch(/silent.*missing/);
    expect(rowOf(f, 'quiet')).toMatch(/muted\s+\+12/);
    expect(rowOf(f, 'wrong-file')).toMatch(/silent.*different|silent.*differ…?×2/);
    // Fits 100 columns.
    for (const line of f.split('\n')) expect([...line].length).toBeLessThanOrEqual(100);
  });

  it('fits narrow terminals (80 columns) and uses wide ones (160) for whole addresses', () => {
    const narrow = plain(mount({ status: status('playing', EVERY_STATE), onAction: () => ({}), onQuit: () => {}, width: 80 }).lastFrame());
    for (const line of narrow.split('\n')) expect([...line].length).toBeLessThanOrEqual(80);
    expect(rowOf(narrow, 'quiet')).toMatch(/muted\s+\+12$/);
    const wide = plain(mount({ status: status('playing', EVERY_STATE), onAction: () => ({}), onQuit: () => {}, width: 160 }).lastFrame());
    for (const line of wide.split('\n')) expect([...line].length).toBeLessThanOrEqual(160);
    expect(rowOf(wide, 'in-sync')).toContain('192.168.1.17:57000');
  });

  it('shows paused, stopped and the schedule', () => {
    const paused = mount({ status: status('paused'), onAction: () => ({}), onQuit: () => {} });
    expect(plain(paused.lastFrame())).toContain('PAUSED');
    expect(plain(paused.lastFrame())).toContain('no members yet');
    // The wall clock is faked (Date only: Ink's timers stay real), so the date is known.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const scheduled = (nowLocal: Date, inMs: number): string => {
        vi.setSystemTime(nowLocal);
        const nextStart = new Date(nowLocal.getTime() + inMs).toISOString();
        const f = plain(mount({ status: status('stopped', [], { schedule: { nextStart, nextStop: null } }), onAction: () => ({}), onQuit: () => {} }).lastFrame());
        expect(f).toContain('STOPPED');
        return f;
      };
      // Later today: the time alone.
      expect(scheduled(new Date(2026, 5, 13, 12, 0, 0), 3_600_000)).toMatch(/schedule start 13:00(\s|$)/m);
      // Past midnight: tomorrow, with its day.
      expect(scheduled(new Date(2026, 5, 13, 23, 30, 0), 3_600_000)).toContain('schedule start Sun 14 Jun 00:30');
    } finally {
      vi.useRealTimers();
    }
  });

  it('scrolls a long playlist around the current track', () => {
    const many = Array.from({ length: 40 }, (_, i) => track(i + 1, 100, `Track number ${i + 1}`));
    const timeline: Timeline = { seq: 1, state: 'paused', trackIndex: 24, positionSec: 3, at: sharedMs(0), repeat: 'all', playlistVersion: 1 };
    const s: LeaderStatus = { ...status('paused'), timeline, playhead: playheadAt(timeline, many, sharedMs(0)), tracks: many, track: many[24]!, repeat: 'all' };
    const f = plain(mount({ status: s, onAction: () => ({}), onQuit: () => {} }).lastFrame());
    expect(f).toMatch(/▶ 25 Track number 25/);
    expect(f).toContain('Track number 23');
    expect(f).toContain('Track number 27');
    expect(f).not.toContain('Track number 1 ');
    expect(f).toContain('↑22');
    expect(f).toContain('↓13');
    expect(f).toContain('repeat all');
  });

  it('opens and closes the help overlay', async () => {
    const { lastFrame, stdin } = mount({ status: status('playing'), onAction: () => ({}), onQuit: () => {} });
    await tick();
    stdin.write('?');
    await vi.waitFor(() => expect(plain(lastFrame())).toContain('latency offset −1 / +1 ms'));
    expect(plain(lastFrame())).toContain('in sync');
    stdin.write('x');
    await vi.waitFor(() => expect(plain(lastFrame())).not.toContain('latency offset −1 / +1 ms'));
  });

  it('w shows the web remote link with its QR code; any key closes it; without the remote it says so', async () => {
    const url = 'http://192.168.1.20:7656/?token=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEfG';
    const { lastFrame, stdin } = mount({ status: status('playing', [], { web: { url } }), onAction: () => ({}), onQuit: () => {} });
    await tick();
    expect(plain(lastFrame())).toContain('w remote');
    stdin.write('w');
    await vi.waitFor(() => expect(plain(lastFrame())).toContain(url));
    const qr = qrLines(url);
    // (without colours the frame loses trailing blanks: compare the drawn part of each line)
    for (const line of qr.slice(1, -1)) expect(plain(lastFrame())).toContain(line.trimEnd());
    stdin.write('x');
    await vi.waitFor(() => expect(plain(lastFrame())).not.toContain(url));

    const off = mount({ status: status('playing', [], { web: null }), onAction: () => ({}), onQuit: () => {} });
    await tick();
    off.stdin.write('w');
    await vi.waitFor(() => expect(plain(off.lastFrame())).toContain('the web remote is off'));
  });
});

describe('<LeaderApp> keys', () => {
  it('turns every key into the right ControlRequest', async () => {
    const sent: ControlRequest[] = [];
    const onQuit = vi.fn();
    const { stdin, lastFrame } = mount({ status: status('playing', [member('alpha'), member('beta')]), onAction: (r) => (sent.push(r), { ok: true, description: 'done' }), onQuit });
    await tick();
    const press = async (k: string): Promise<void> => {
      stdin.write(k);
      await tick();
    };
    for (const k of [' ', 'n', 'p', KEY.left, KEY.right, '+', '-', 'm', '[', ']']) await press(k);
    await press(KEY.down); // select alpha
    for (const k of ['+', '-', 'm', '[', ']']) await press(k);
    await press(KEY.down); // beta
    await press(KEY.down); // stays on beta (last row)
    await press('+');
    await press(KEY.up);
    await press(KEY.up); // back to all members
    await press('+');
    for (const k of ['s', 'r']) await press(k);
    expect(sent).toEqual([
      { cmd: 'pause' },
      { cmd: 'next' },
      { cmd: 'prev' },
      { cmd: 'seek', seconds: -10, relative: true },
      { cmd: 'seek', seconds: 10, relative: true },
      { cmd: 'volume', member: 'all', delta: 5 },
      { cmd: 'volume', member: 'all', delta: -5 },
      { cmd: 'mute', member: 'all', muted: true },
      { cmd: 'offset', member: 'all', ms: -1, relative: true },
      { cmd: 'offset', member: 'all', ms: 1, relative: true },
      { cmd: 'volume', member: 'alpha', delta: 5 },
      { cmd: 'volume', member: 'alpha', delta: -5 },
      { cmd: 'mute', member: 'alpha' },
      { cmd: 'offset', member: 'alpha', ms: -1, relative: true },
      { cmd: 'offset', member: 'alpha', ms: 1, relative: true },
      { cmd: 'volume', member: 'beta', delta: 5 },
      { cmd: 'volume', member: 'all', delta: 5 },
      { cmd: 'stop' },
      { cmd: 'repeat', mode: 'all' },
    ]);
    // q while playing asks first; y quits.
    await press('q');
    expect(onQuit).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(plain(lastFrame())).toMatch(/Quit and stop the leader\? \(y\/n\)/));
    await press('y');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('q then anything but y keeps running; q when stopped quits at once; Ctrl+C quits', async () => {
    const onQuit = vi.fn();
    const app = mount({ status: status('playing'), onAction: () => ({}), onQuit });
    await tick();
    app.stdin.write('q');
    await tick();
    app.stdin.write('n');
    await tick();
    expect(onQuit).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(plain(app.lastFrame())).toContain('still running'));
    app.rerender(h(LeaderApp, { width: 100, height: 40, status: status('stopped'), onAction: () => ({}), onQuit }));
    await tick();
    app.stdin.write('q');
    await tick();
    expect(onQuit).toHaveBeenCalledTimes(1);
    app.stdin.write('\u0003');
    await tick();
    expect(onQuit).toHaveBeenCalledTimes(2);
  });

  it('space resumes when paused and plays when stopped; r cycles off → all → one → off', () => {
    expect(playPauseRequest(status('playing'))).toEqual({ cmd: 'pause' });
    expect(playPauseRequest(status('paused'))).toEqual({ cmd: 'resume' });
    expect(playPauseRequest(status('stopped'))).toEqual({ cmd: 'play' });
    const r = (repeat: LeaderStatus['repeat']) => keyIntent('r', {}, { ...status('playing'), repeat }, 'all');
    expect(r('off')).toEqual({ kind: 'request', request: { cmd: 'repeat', mode: 'all' } });
    expect(r('all')).toEqual({ kind: 'request', request: { cmd: 'repeat', mode: 'one' } });
    expect(r('one')).toEqual({ kind: 'request', request: { cmd: 'repeat', mode: 'off' } });
    // m on "all members" unmutes everyone once everyone is muted.
    const allMuted = status('playing', [member('a', { muted: true }), member('b', { muted: true })]);
    expect(keyIntent('m', {}, allMuted, 'all')).toEqual({ kind: 'request', request: { cmd: 'mute', member: 'all', muted: false } });
  });

  it('shows a refused action’s error, and keys typed in one burst one by one', async () => {
    const sent: ControlRequest[] = [];
    const { stdin, lastFrame } = mount({
      status: status('playing'),
      onAction: (r) => {
        sent.push(r);
        return r.cmd === 'next' ? { ok: false, error: 'already at the last track' } : { ok: true, description: 'paused track 2/3' };
      },
      onQuit: () => {},
      flashMs: 200,
    });
    await tick();
    stdin.write('n');
    await vi.waitFor(() => expect(plain(lastFrame())).toContain('✗ already at the last track'));
    await vi.waitFor(() => expect(plain(lastFrame())).not.toContain('already at the last track'));
    stdin.write('pn');
    await tick();
    expect(sent.map((r) => r.cmd)).toEqual(['next', 'prev', 'next']);
  });
});

describe('<LiveLeaderApp> with a real Leader and ControlServer', () => {
  let leader: Leader | null = null;
  let control: ControlServer | null = null;
  let dir: string | null = null;
  afterEach(async () => {
    await control?.stop();
    await leader?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    leader = control = dir = null;
  });

  it('space starts playback, n moves to the next track, both through ControlServer.handle', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncplay-ui-'));
    leader = new Leader({ host: '127.0.0.1', port: 0, tracks: [track(1, 180, 'First'), track(2, 200, 'Second'), track(3, 90, 'Third')], secret: null, leadMs: 100, version: 'test', log: silentLogger, settingsFile: null });
    await leader.start();
    control = new ControlServer(leader, path.join(dir, 'ctl.sock'), silentLogger);
    await control.start();
    const handle = vi.spyOn(control, 'handle');
    const l = leader;
    const c = control;
    const logs = new LogBuffer();
    logs.write('12:00:00.000 INFO  leader started');
    const app = render(h(LiveLeaderApp, { source: { status: () => l.status(), handle: (r) => c.handle(r) }, logs, onQuit: () => {}, refreshMs: 50, width: 100, height: 40 }));
    unmounts.push(app.unmount);
    await tick(80);
    expect(plain(app.lastFrame())).toContain('STOPPED');
    expect(plain(app.lastFrame())).toContain('leader started');
    expect(plain(app.lastFrame())).toContain(`127.0.0.1:${l.port}`);

    app.stdin.write(' ');
    await vi.waitFor(() => expect(handle).toHaveBeenLastCalledWith({ cmd: 'play' }));
    expect(l.currentTimeline().state).toBe('playing');
    expect(l.currentTimeline().trackIndex).toBe(0);

    app.stdin.write('n');
    await vi.waitFor(() => expect(handle).toHaveBeenLastCalledWith({ cmd: 'next' }));
    expect(l.currentTimeline()).toMatchObject({ state: 'playing', trackIndex: 1 });
    await vi.waitFor(() => {
      const f = plain(app.lastFrame());
      expect(f).toContain('PLAYING');
      expect(f).toMatch(/▶ 2 Second/);
      expect(f).toContain('✓ playing track 2/3 "Second"');
    });

    // A refused action shows the leader's own error message.
    app.stdin.write('n');
    await tick(30);
    app.stdin.write('n');
    await vi.waitFor(() => expect(plain(app.lastFrame())).toContain('✗ already at the last track'));
  });
});

describe('party in the header', () => {
  it('shows the join code of a secure party, and warns of an open one', () => {
    const secure = status('playing', [], { party: { name: 'den', id: '0123456789abcdef', open: false, pairing: { code: '1234-5678', expiresInSec: 3000, paired: [] } } });
    expect(plain(mount({ status: secure, onAction: () => ({}), onQuit: () => {} }).lastFrame()).split('\n')[0]).toContain('join code 1234-5678');
    const open = status('playing', [], { party: { name: 'den', id: null, open: true, pairing: null } });
    const header = plain(mount({ status: open, onAction: () => ({}), onQuit: () => {} }).lastFrame()).split('\n')[0];
    expect(header).toContain('OPEN party');
    expect(header).not.toContain('join code');
  });
});

describe('big playlists and the scan', () => {
  const scan = (over: Partial<ProgressView> = {}): ProgressView => ({ phase: 'reading', done: 3200, total: 10_000, cached: 2900, ratePerSec: 1050, etaSec: 6.5, elapsedSec: 4.2, ...over });

  it('shows the scan in a widget of its own: files done of the total, a bar, the rate, the cache, the time left', () => {
    const f = plain(mount({ status: status('stopped', [], { tracks: [], track: null, scan: scan() }), onAction: () => ({}), onQuit: () => {} }).lastFrame());
    const lines = f.split('\n');
    const rule = lines.findIndex((l) => l.startsWith('── Scan '));
    expect(rule).toBeGreaterThan(0);
    expect(lines[rule]).toMatch(/4 s ──$/);
    expect(lines[rule + 1]).toMatch(/^reading 3,200\/10,000 files ━+─+ {2}1,050\/s · 2,900 cached · about 7 s left$/);
    // The bar is drawn to scale: 32 % of it is done.
    const done = (lines[rule + 1]!.match(/━/g) ?? []).length;
    const all = done + (lines[rule + 1]!.match(/─/g) ?? []).length;
    expect(done / all).toBeCloseTo(0.32, 1);
    expect(f).toContain('the music dir is being scanned…');
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(100);
  });

  it('shows the listing phase, and no widget once the scan is done', () => {
    const listing = plain(mount({ status: status('stopped', [], { tracks: [], track: null, scan: scan({ phase: 'listing', done: 0, total: 4210, etaSec: null }) }), onAction: () => ({}), onQuit: () => {} }).lastFrame());
    expect(listing).toContain('listing the music dir: 4,210 files found so far');
    const done = plain(mount({ status: status('playing', [], { scan: scan({ phase: 'done', done: 10_000, etaSec: 0 }) }), onAction: () => ({}), onQuit: () => {} }).lastFrame());
    expect(done).not.toContain('── Scan');
    expect(done).not.toContain('being scanned');
  });

  it('draws a 100,000-track playlist as a window of 5 rows around the current track, in a frame shorter than the terminal', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => track(i + 1, 100, `Track number ${i + 1}`));
    const timeline: Timeline = { seq: 1, state: 'playing', trackIndex: 54_321, positionSec: 3, at: sharedMs(0), repeat: 'off', playlistVersion: 1 };
    const s: LeaderStatus = { ...status('playing', [member('alpha')]), timeline, playhead: playheadAt(timeline, many, sharedMs(10)), tracks: many, track: many[54_321]!, repeat: 'off' };
    for (const height of [24, 40, 60]) {
      const f = plain(mount({ status: s, onAction: () => ({}), onQuit: () => {}, height }).lastFrame());
      // Playlist rows read "<number> <title>" (the now-playing pane's "next 54323. …" has a dot).
      const rows = [...f.matchAll(/ (\d{5,6}) Track number \1\b/g)].map((m) => Number(m[1]));
      expect(rows).toEqual([54_320, 54_321, 54_322, 54_323, 54_324]);
      expect(f).toMatch(/▶ +54322 Track number 54322/);
      expect(f).toContain('↑54319 ↓45676');
      // Ink rewrites only the changed lines as long as the frame is shorter than the terminal.
      expect(f.split('\n').length).toBeLessThan(height);
    }
  });

  it('lays the key hints out in lines that fit the width', () => {
    for (const width of [60, 80, 100, 160]) {
      const lines = hintLines(width);
      expect(lines.flat().map(([k]) => k)).toContain('q');
      for (const line of lines) expect(line.map(([k, what]) => `${k} ${what}`).join('  ').length).toBeLessThanOrEqual(width);
    }
    expect(hintLines(160)).toHaveLength(1);
    expect(hintLines(60).length).toBeGreaterThan(1);
  });
});
