/**
 * The leader's terminal UI in a real terminal: a tmux session runs `syncplay leader`, a member
 * joins, keys typed into the pane drive the timeline (checked through `syncplay ctl status`),
 * and q, y shuts the leader down and gives the terminal back.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControl } from '../../src/cli/ctl-command.js';
import type { LeaderStatus } from '../../src/leader/leader.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SESSION = `syncplay-ui-test-${process.pid}-${Date.now().toString(36)}`;
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}\n--- pane ---\n${pane()}`);
    await sleep(150);
  }
}

function pane(): string {
  const r = spawnSync('tmux', ['capture-pane', '-p', '-t', SESSION], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : `(no pane: ${r.stderr.trim()})`;
}

function keys(...k: string[]): void {
  execFileSync('tmux', ['send-keys', '-t', SESSION, ...k]);
}

/** dist/ must hold the UI (.tsx) sources too, bundled: rebuild when one of them is newer. */
function ensureBuilt(): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else if (/\.tsx?$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
    }
    return t;
  };
  // The leader loads the UI from its bundle (scripts/bundle-ui.mjs), built after tsc.
  const built = join(ROOT, 'dist', 'src', 'leader', 'ui', 'leader-ui.bundle.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(ROOT, 'src', 'leader', 'ui'))) return;
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle-ui.mjs')], { cwd: ROOT, encoding: 'utf8' });
}

describe.skipIf(!hasTmux)('leader terminal UI in tmux', () => {
  let dir = '';
  let socket = '';
  let member: ChildProcess | null = null;
  let memberLog = '';

  const status = async (): Promise<LeaderStatus> => {
    const reply = await sendControl({ cmd: 'status', tracks: true }, socket, 3000);
    if (!reply.ok) throw new Error(String(reply.error));
    return reply.status as LeaderStatus;
  };

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'syncplay-ui-tmux-'));
    socket = join(dir, 'l.sock');
  });

  afterAll(async () => {
    spawnSync('tmux', ['kill-session', '-t', SESSION]);
    if (member && member.exitCode === null && member.signalCode === null) {
      const m = member;
      const exited = new Promise<void>((r) => m.once('exit', () => r()));
      m.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (m.exitCode === null && m.signalCode === null) m.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the member, space plays, n goes to track 2, q y quits and restores the terminal', async () => {
    const leaderCmd = `node bin/syncplay leader --music-dir playlists --host 127.0.0.1 --port 0 --no-web --socket ${socket} --state-file ${join(dir, 's.json')} --open --no-advertise; echo "leader exited: $?"; sleep 600`;
    // A person's terminal, not a CI log: Ink draws nothing interactive when CI is set.
    execFileSync('tmux', ['new-session', '-d', '-s', SESSION, '-x', '160', '-y', '50', '-c', ROOT, '-e', 'CI=0', '-e', 'CONTINUOUS_INTEGRATION=0', leaderCmd]);

    const first = await until('the leader to answer on its control socket', () => status());
    const port = first.listening.port;
    expect(port).toBeGreaterThan(0);
    expect(first.timeline.state).toBe('stopped');
    await until('the UI on screen', () => pane().includes('Now playing') && pane().includes('Members'));

    member = spawn(process.execPath, ['bin/syncplay', 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', 'playlists', '--name', 'tmux-m', '--mpv-arg=--ao=null'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    member.stdout?.on('data', (d: Buffer) => (memberLog += d.toString()));
    member.stderr?.on('data', (d: Buffer) => (memberLog += d.toString()));
    // Not a terminal: plain log lines, no status line.
    await until('the member to join', async () => (await status()).members.some((m) => m.name === 'tmux-m' && m.connected && m.rttMs !== null));
    // The row: name, address, player state, numbers, files ok, volume.
    const row = await until('the member row with its status', () => pane().split('\n').find((l) => l.includes('tmux-m') && / ok /.test(l)));
    expect(row).toMatch(/tmux-m\s+127\.0\.0\.1(:\d+)?\s+(idle|loading|armed|paused)\s+[+-]\d/);
    expect(row).toMatch(/ ok\s+100 /);
    expect(memberLog).toContain('joined leader');
    expect(memberLog).not.toContain('\x1b[2K');

    keys('Space');
    const playing = await until('playback to start', async () => {
      const s = await status();
      return s.timeline.state === 'playing' ? s : null;
    });
    expect(playing.timeline.trackIndex).toBe(0);
    await until('PLAYING on screen', () => pane().includes('▶ PLAYING'));
    await until('the member to play', () => pane().split('\n').some((l) => l.includes('tmux-m') && l.includes('playing')));

    keys('n');
    const second = await until('track 2', async () => {
      const s = await status();
      return s.timeline.trackIndex === 1 && s.timeline.state === 'playing' ? s : null;
    });
    expect(second.tracks[1]?.title).toBeTruthy();
    await until('track 2 marked in the playlist', () => /▶\s+2 /.test(pane()));

    // q while playing asks first.
    keys('q');
    await until('the quit question', () => pane().includes('(y/n)'));
    expect((await status()).timeline.state).toBe('playing');
    keys('y');
    const after = await until('the leader to exit', () => {
      const p = pane();
      return p.includes('leader exited:') ? p : null;
    });
    expect(after).toContain('leader exited: 0');
    // Back on the normal screen: the shutdown log is there and the UI is gone.
    expect(after).toContain('shutting down');
    expect(after).not.toContain('Now playing');
    expect(existsSync(socket)).toBe(false);
    await until('the member to notice', () => memberLog.includes('lost the leader') || memberLog.includes('leader shutting down'), 10_000);
  });
});
