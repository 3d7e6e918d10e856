import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCheck } from '../../src/member/file-check.js';
import { openInside } from '../../src/member/open-inside.js';
import { hashFile } from '../../src/playlist/content-hash.js';
import { silentLogger } from '../../src/log/logger.js';

describe('opening a track checks what was opened', () => {
  const base = mkdtempSync(join(tmpdir(), 'open-inside-'));
  const music = join(base, 'music');
  const outside = join(base, 'secret.txt');
  mkdirSync(join(music, 'album'), { recursive: true });
  writeFileSync(outside, 'private');

  it('hands the player a /proc path naming the opened file, and refuses links leading outside', () => {
    writeFileSync(join(music, 'a.ogg'), 'AAAA');
    const ok = openInside(music, join(music, 'a.ogg'));
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      expect(ok.playPath).toBe(`/proc/${process.pid}/fd/${ok.fd}`);
      // Replacing the path afterwards changes nothing the player reads.
      rmSync(join(music, 'a.ogg'));
      writeFileSync(join(music, 'a.ogg'), 'BBBB');
      expect(readFileSync(ok.playPath, 'utf8')).toBe('AAAA');
      closeSync(ok.fd!);
    }
    symlinkSync(outside, join(music, 'link.ogg'));
    const link = openInside(music, join(music, 'link.ogg'));
    expect(link).toMatchObject({ ok: false });
    if (!link.ok) expect(link.reason).toMatch(/symbolic link/);
    // A directory on the way swapped for a link to elsewhere.
    symlinkSync(base, join(music, 'sneaky'));
    const dir = openInside(music, join(music, 'sneaky', 'secret.txt'));
    expect(dir).toMatchObject({ ok: false });
    if (!dir.ok) expect(dir.reason).toMatch(/outside/);
  });

  it('a checked track swapped for a symlink after the check is refused when the player asks for it', async () => {
    const file = join(music, 'album', 't.ogg');
    writeFileSync(file, 'track data');
    const check = new FileCheck(music, silentLogger);
    await check.check([{ path: 'album/t.ogg', hash: await hashFile(file), durationSec: 1, title: 't' }]);
    expect(check.file(0)?.status).toBe('ok');
    expect(check.file(0)?.absPath).toMatch(/^\/proc\/\d+\/fd\/\d+$/);
    // Swapped after the check; a fresh FileCheck view (no descriptor held yet) must refuse it.
    const check2 = new FileCheck(music, silentLogger);
    await check2.check([{ path: 'album/t.ogg', hash: await hashFile(file), durationSec: 1, title: 't' }]);
    rmSync(file);
    symlinkSync(outside, file);
    expect(check2.file(0)).toMatchObject({ status: 'refused', absPath: null });
    expect(check2.summary().status).toBe('refused');
  });
});
