import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Logger } from '../../src/log/logger.js';
import { tempPathFor, writeFileAtomic } from '../../src/state/atomic-file.js';
import { JsonStateFile } from '../../src/state/json-state-file.js';

const schema = z.object({ version: z.literal(2), n: z.number().int(), pad: z.string() });
type State = z.infer<typeof schema>;

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log = { warnings, error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, child: () => log } as unknown as Logger & { warnings: string[] };
  return log;
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'json-state-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('JsonStateFile', () => {
  it('reads back what it wrote, 0600, with no temporary file left', () => {
    const file = join(tempDir(), 'sub', 'state.json');
    const s = new JsonStateFile<State>(file, schema, { what: 'test state', without: 'starting afresh' });
    expect(s.read()).toEqual({ kind: 'missing' });
    expect(s.load()).toBeNull();
    s.write({ version: 2, n: 1, pad: 'x' });
    expect(s.load()).toEqual({ version: 2, n: 1, pad: 'x' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(file, '..'))).toEqual(['state.json']);
  });

  it('a file of another version, not JSON, or of the wrong shape is set aside with a warning, never overwritten unseen', () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    const log = recordingLog();
    const s = new JsonStateFile<State>(file, schema, { what: 'test state', without: 'starting afresh' }, log);
    for (const bad of ['{"version":1,"n":1,"pad":"x"}', '{"version":2,"n":', '{"version":2,"n":"one","pad":"x"}']) {
      writeFileSync(file, bad);
      expect(s.read().kind).toBe('invalid');
      expect(s.load()).toBeNull();
      expect(readdirSync(dir)).not.toContain('state.json');
      const aside = readdirSync(dir).filter((f) => f.startsWith('state.json.unreadable-'));
      expect(aside.length).toBeGreaterThan(0);
      for (const f of aside) rmSync(join(dir, f));
    }
    expect(log.warnings).toHaveLength(3);
    expect(log.warnings[0]).toMatch(/test state file .* is not valid .*starting afresh/);
  });

  it('a torn temporary file (a crash mid-write) never replaces the good one', () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    const s = new JsonStateFile<State>(file, schema, { what: 'test state', without: 'starting afresh' });
    s.write({ version: 2, n: 7, pad: 'good' });
    // What a crash between the write and the rename leaves: half a newer state under a temporary name.
    const torn = tempPathFor(file);
    writeFileSync(torn, '{"version":2,"n":8,"pad":"ne');
    expect(s.load()).toEqual({ version: 2, n: 7, pad: 'good' });
    // The next write still lands whole, beside the leftover.
    s.write({ version: 2, n: 9, pad: 'next' });
    expect(s.load()).toEqual({ version: 2, n: 9, pad: 'next' });
    expect(readFileSync(torn, 'utf8')).toBe('{"version":2,"n":8,"pad":"ne');
  });

  it('a failed write leaves the old file and no temporary one', () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    writeFileAtomic(file, 'old\n');
    // The rename target is a non-empty folder: the rename fails after the data was written.
    const blocked = join(dir, 'blocked');
    writeFileAtomic(join(blocked, 'inside'), 'x');
    expect(() => writeFileAtomic(blocked, 'new')).toThrow();
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a process killed at random moments while saving leaves a whole state every time', async () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    const writer = join(dir, 'writer.mjs');
    const atomic = fileURLToPath(new URL('../../dist/src/state/atomic-file.js', import.meta.url));
    // A child saving ever newer 256 kB states as fast as it can; killed with SIGKILL mid-stream.
    writeFileSync(
      writer,
      `import { writeFileAtomic } from ${JSON.stringify(atomic)};\n` +
        `const pad = 'p'.repeat(256 * 1024);\n` +
        `for (let n = 0; ; n++) { writeFileAtomic(${JSON.stringify(file)}, JSON.stringify({ version: 2, n, pad }) + '\\n'); if (n === 0) process.stdout.write('first\\n'); }\n`,
    );
    const s = new JsonStateFile<State>(file, schema, { what: 'test state', without: 'starting afresh' });
    let last = -1;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, [writer], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 40));
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
      const r = s.read();
      expect(r.kind, `round ${round}: ${JSON.stringify(r).slice(0, 200)}`).toBe('ok');
      if (r.kind === 'ok') {
        expect(r.data.pad).toHaveLength(256 * 1024);
        last = r.data.n;
      }
    }
    expect(last).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
