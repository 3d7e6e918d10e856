/**
 * The leader's first frames in a real pseudo-terminal (util-linux `script`, bench/terminal.ts):
 * the plain frame is drawn before the panel has loaded, the panel (Ink, from its bundle) then
 * takes the screen over and answers keys, and a leader that fails to start gives the normal
 * screen back before its error.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainText, Terminal } from '../../bench/terminal.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const hasScript = spawnSync('script', ['--version']).status === 0;
const ENTER_ALT = '\x1b[?1049h';
const LEAVE_ALT = '\x1b[?1049l';

function env(dir: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color', XDG_CACHE_HOME: join(dir, 'cache'), XDG_STATE_HOME: join(dir, 'state') };
  // A person's terminal: the leader runs headless under CI.
  delete e.CI;
  delete e.CONTINUOUS_INTEGRATION;
  return e;
}

const exited = (t: Terminal): Promise<number | null> => (t.proc.exitCode !== null ? Promise.resolve(t.proc.exitCode) : new Promise((r) => t.proc.once('exit', (code) => r(code))));

describe.skipIf(!hasScript)('leader first frame in a pseudo-terminal', () => {
  let dir = '';
  let taken: Server | null = null;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncplay-first-frame-'));
  });

  afterAll(async () => {
    await new Promise<void>((r) => (taken ? taken.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const leader = (...extra: string[]): Terminal =>
    new Terminal([process.execPath, join(ROOT, 'bin', 'syncplay'), 'leader', '--music-dir', join(ROOT, 'playlists'), '--host', '127.0.0.1', '--socket', join(dir, `l-${Date.now()}.sock`), '--open', '--no-advertise', '--no-web', '--state-dir', join(dir, 'leader-state'), ...extra], { cols: 100, rows: 30, env: env(dir), cwd: ROOT });

  it('draws the plain frame first, then the panel takes over and answers keys; q quits', async () => {
    const term = leader('--port', '0');
    try {
      await term.waitFor(/syncplay leader/, 0, 60_000);
      await term.waitFor(/syncplay leader[^\n]*\? help/, 0, 60_000);
      const out = term.output;
      const plainAt = plainText(out).indexOf('loading the panel…');
      const panelAt = plainText(out).search(/syncplay leader[^\n]*\? help/);
      // The plain frame came first, in the alternate screen.
      expect(plainAt).toBeGreaterThanOrEqual(0);
      expect(plainAt).toBeLessThan(panelAt);
      expect(out.indexOf(ENTER_ALT)).toBeLessThan(out.indexOf('loading the panel…'));
      // The panel answers keys (the help opens).
      const from = term.output.length;
      term.type('?');
      await term.waitFor(/Colours/, from, 30_000);
      term.type('x');
      await term.waitFor(/Now playing/, term.output.length, 30_000).catch(() => undefined);
      // Stopped: q quits at once; the normal screen comes back.
      term.type('q');
      const code = await Promise.race([exited(term), new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000))]);
      expect(code).toBe(0);
      expect(term.output.lastIndexOf(LEAVE_ALT)).toBeGreaterThan(term.output.lastIndexOf(ENTER_ALT));
      expect(plainText(term.output)).toContain('shutting down');
    } finally {
      await term.stop();
    }
  });

  it('gives the normal screen back, then prints the error, when the leader cannot start', async () => {
    taken = createServer();
    const port = await new Promise<number>((r) => taken!.listen(0, '127.0.0.1', () => r((taken!.address() as { port: number }).port)));
    const term = leader('--port', String(port));
    try {
      const code = await Promise.race([exited(term), new Promise<'late'>((r) => setTimeout(() => r('late'), 60_000))]);
      expect(code).toBe(1);
      const out = term.output;
      const left = out.lastIndexOf(LEAVE_ALT);
      expect(out.indexOf(ENTER_ALT)).toBeGreaterThanOrEqual(0);
      expect(left).toBeGreaterThan(out.lastIndexOf(ENTER_ALT));
      // The error is on the normal screen, after the alternate one was left.
      expect(plainText(out.slice(left))).toMatch(/syncplay: .*(EADDRINUSE|in use)/);
    } finally {
      await term.stop();
    }
  });
});
