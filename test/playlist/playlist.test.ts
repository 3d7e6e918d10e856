import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  clearHashCache,
  hashCacheStats,
  hashFile,
  loadPlaylist,
  parseM3u,
  RealPathCache,
  resolveInside,
  scanMusicDir,
  shortHash,
  toRelativeInside,
} from '../../src/playlist/index.js';
import { encodeWav } from '../../src/audio/wav.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmpRoots: string[] = [];

function tmpDir(): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'syncplay-playlist-')));
  tmpRoots.push(d);
  return d;
}

function write(file: string, content: string | Buffer = 'x'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** A mono 16-bit PCM WAV: `seconds` of a quiet sine. */
function wav(seconds: number, sampleRate = 8000): Buffer {
  const samples = new Float32Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < samples.length; i++) samples[i] = (3000 / 32767) * Math.sin((2 * Math.PI * 440 * i) / sampleRate);
  return encodeWav(samples, sampleRate);
}

afterAll(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

describe('parseM3u', () => {
  const pl = '/music/lists/mix.m3u8';

  it('resolves relative and absolute entries, reads EXTINF, ignores comments and blanks', () => {
    const text = [
      '#EXTM3U',
      '#PLAYLIST:Mix',
      '',
      '#EXTINF:123,Some Artist - Some Song',
      'a/song one.mp3',
      '# just a comment',
      '#EXTGRP:whatever',
      '../other/two.flac',
      '#EXTINF:-1,Unknown length',
      '/abs/three.ogg',
      '#EXTINF:7.5 tvg-name="x, y",Attr, Title',
      './four.wav',
      '   ',
    ].join('\n');
    const entries = parseM3u(text, pl);
    expect(entries.map((e) => e.location)).toEqual([
      '/music/lists/a/song one.mp3',
      '/music/other/two.flac',
      '/abs/three.ogg',
      '/music/lists/four.wav',
    ]);
    expect(entries[0]).toMatchObject({ extinfTitle: 'Some Artist - Some Song', extinfDurationSec: 123 });
    expect(entries[1]?.extinfTitle).toBeUndefined(); // EXTINF applies to the next entry only
    expect(entries[2]).toMatchObject({ extinfTitle: 'Unknown length' });
    expect(entries[2]?.extinfDurationSec).toBeUndefined();
    expect(entries[3]).toMatchObject({ extinfTitle: 'Attr, Title', extinfDurationSec: 7.5 });
  });

  it('handles BOM, CRLF and UTF-8 names', () => {
    const text = '\uFEFF#EXTM3U\r\n#EXTINF:200,Zoë – Ünïcode\r\nCafé – Ü.flac\r\n日本/曲.mp3\r\n';
    const entries = parseM3u(text, pl);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ location: '/music/lists/Café – Ü.flac', extinfTitle: 'Zoë – Ünïcode', extinfDurationSec: 200 });
    expect(entries[1]?.location).toBe('/music/lists/日本/曲.mp3');
  });

  it('decodes file:// URLs and reports http(s) as unsupported', () => {
    const url = pathToFileURL('/music/Café – Ü.flac').href; // percent-encoded
    expect(url).toContain('%');
    const warnings: string[] = [];
    const entries = parseM3u(
      [url, 'file://localhost/music/x%20y.mp3', 'http://example.com/stream.mp3', 'HTTPS://example.com/a.ogg', 'b.ogg'].join('\n'),
      pl,
      warnings,
    );
    expect(entries.map((e) => e.location)).toEqual(['/music/Café – Ü.flac', '/music/x y.mp3', '/music/lists/b.ogg']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/http.*not supported/);
    expect(warnings[0]).toContain('mix.m3u8:3');
    expect(warnings[1]).toMatch(/https.*not supported/);
  });

  it('does not throw on garbage and returns nothing for an empty file', () => {
    expect(parseM3u('', pl)).toEqual([]);
    expect(parseM3u('#EXTM3U\n#EXTINF:abc\n', pl)).toEqual([]);
    expect(() => parseM3u('file://%zz\n', pl, [])).not.toThrow();
  });
});

describe('safe-path', () => {
  const root = tmpDir();
  const music = path.join(root, 'music');
  const outside = path.join(root, 'outside');
  write(path.join(music, 'a', 'song.mp3'));
  write(path.join(outside, 'secret.mp3'));
  fs.symlinkSync(path.join(outside, 'secret.mp3'), path.join(music, 'evil.mp3'));
  fs.symlinkSync(outside, path.join(music, 'evil-dir'));
  fs.symlinkSync(path.join(music, 'a', 'song.mp3'), path.join(music, 'good-link.mp3'));
  fs.symlinkSync(path.join(root, 'nowhere.mp3'), path.join(music, 'dangling.mp3'));

  // Without a cache of folders' real paths, and with one shared by every call (as a scan does).
  const cached = new RealPathCache();
  for (const [how, realPaths] of [['each path walked', null], ['folders remembered', cached]] as const) {
    it(`accepts files inside, including symlinks that stay inside and non-existent files (${how})`, () => {
      expect(resolveInside(music, 'a/song.mp3', realPaths)).toEqual({ ok: true, absPath: path.join(music, 'a', 'song.mp3') });
      expect(resolveInside(music, './a/song.mp3', realPaths)).toEqual({ ok: true, absPath: path.join(music, 'a', 'song.mp3') });
      expect(resolveInside(music, 'good-link.mp3', realPaths).ok).toBe(true);
      expect(resolveInside(music, 'not/there.mp3', realPaths)).toEqual({ ok: true, absPath: path.join(music, 'not', 'there.mp3') });
    });

    it(`refuses escapes, absolute paths, NUL bytes and symlinks out of the dir (${how})`, () => {
      for (const bad of ['../outside/secret.mp3', 'a/../../outside/secret.mp3', '..', '/etc/passwd', path.join(outside, 'secret.mp3'), 'a/\0.mp3', '', '.', 'evil.mp3', 'evil-dir/secret.mp3', 'evil-dir/nope.mp3', 'dangling.mp3']) {
        const r = resolveInside(music, bad, realPaths);
        expect(r.ok, `should refuse ${JSON.stringify(bad)}`).toBe(false);
        if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
      }
      const r = resolveInside(music, 'evil.mp3', realPaths);
      expect(!r.ok && r.reason).toMatch(/symlink/);
      // A regular file in a folder that is a symlink out of the music dir: refused through its folder's real path.
      const viaDir = resolveInside(music, 'evil-dir/secret.mp3', realPaths);
      expect(!viaDir.ok && viaDir.reason).toMatch(/outside/);
    });
  }

  it('toRelativeInside gives POSIX paths or null', () => {
    expect(toRelativeInside(music, path.join(music, 'a', 'song.mp3'))).toBe('a/song.mp3');
    expect(toRelativeInside(music + '/', path.join(music, 'x.mp3'))).toBe('x.mp3');
    expect(toRelativeInside(music, path.join(outside, 'secret.mp3'))).toBeNull();
    expect(toRelativeInside(music, music)).toBeNull();
    expect(toRelativeInside(music, path.join(music + '-sibling', 'x.mp3'))).toBeNull();
    // music dir given through a symlink, file given by its real path
    const alias = path.join(root, 'alias');
    fs.symlinkSync(music, alias);
    expect(toRelativeInside(alias, path.join(music, 'a', 'song.mp3'))).toBe('a/song.mp3');
  });
});

describe('scanMusicDir', () => {
  it('lists audio files recursively in natural order, skipping hidden and non-audio files', async () => {
    const d = tmpDir();
    for (const f of ['Track 10.mp3', 'Track 2.mp3', 'track 1.FLAC', 'cover.jpg', 'notes.txt', '.hidden.mp3', '.git/x.mp3', 'Album 10/01.ogg', 'Album 9/2.opus', 'Album 9/10.opus', 'b/Café.wav']) {
      write(path.join(d, f));
    }
    expect(await scanMusicDir(d)).toEqual([
      'Album 9/2.opus',
      'Album 9/10.opus',
      'Album 10/01.ogg',
      'b/Café.wav',
      'track 1.FLAC',
      'Track 2.mp3',
      'Track 10.mp3',
    ]);
  });

  it('throws when the dir does not exist', async () => {
    await expect(scanMusicDir(path.join(tmpDir(), 'nope'))).rejects.toThrow();
  });
});

describe('hashFile', () => {
  beforeEach(() => clearHashCache());

  it('hashes content with sha256 and serves unchanged files from the cache', async () => {
    const d = tmpDir();
    const f = write(path.join(d, 'a.bin'), 'hello');
    const mtime = new Date(1_700_000_000_000); // whole ms, so it can be restored exactly
    fs.utimesSync(f, mtime, mtime);
    const h = await hashFile(f);
    expect(h).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(shortHash(h)).toBe('2cf24dba5fb0');
    expect(hashCacheStats()).toMatchObject({ hits: 0, misses: 1 });

    expect(await hashFile(f)).toBe(h);
    expect(hashCacheStats()).toMatchObject({ hits: 1, misses: 1 });

    // Same size and mtime but different content: still served from the cache (proves no re-read).
    fs.writeFileSync(f, 'HELLO');
    fs.utimesSync(f, mtime, mtime);
    expect(await hashFile(f)).toBe(h);

    // A real change (new mtime) is re-hashed.
    fs.utimesSync(f, mtime, new Date(mtime.getTime() + 5000));
    const h2 = await hashFile(f);
    expect(h2).not.toBe(h);
    expect(h2).toMatch(/^[0-9a-f]{64}$/);
    expect(hashCacheStats().misses).toBe(2);
  });

  it('rejects missing files', async () => {
    await expect(hashFile(path.join(tmpDir(), 'missing.bin'))).rejects.toThrow();
  });
});

describe('loadPlaylist', () => {
  it('loads the bundled example playlist', async () => {
    const musicDir = path.join(repoRoot, 'playlists');
    const r = await loadPlaylist({ musicDir });
    expect(r.source).toBe(path.join(musicDir, 'example.m3u8'));
    expect(r.warnings).toEqual([]);
    expect(r.tracks).toHaveLength(3);
    for (const t of r.tracks) {
      expect(t.durationSec).toBeGreaterThan(15);
      expect(t.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(t.artist).toBe('syncplay examples');
      expect(t.path).not.toContain('/');
    }
    expect(new Set(r.tracks.map((t) => t.hash)).size).toBe(3);
    expect(r.tracks.map((t) => t.title)).toEqual(['Morning Drift', 'Harbour Lights', 'Paper Lanterns']);

    const explicit = await loadPlaylist({ musicDir, playlistFile: path.join(musicDir, 'example.m3u8') });
    expect(explicit.tracks).toEqual(r.tracks);
  });

  it('scans a dir with a generated WAV, falling back to the file name as title', async () => {
    const d = tmpDir();
    write(path.join(d, 'sub', 'Tone 1.wav'), wav(0.5));
    write(path.join(d, 'readme.txt'), 'not audio');
    const r = await loadPlaylist({ musicDir: d });
    expect(r.source).toBe(`scan:${d}`);
    expect(r.tracks).toHaveLength(1);
    const t = r.tracks[0]!;
    expect(t.path).toBe('sub/Tone 1.wav');
    expect(t.title).toBe('Tone 1');
    expect(t.artist).toBeUndefined();
    expect(t.durationSec).toBeCloseTo(0.5, 3);
    expect(t.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('prefers a playlist in <musicDir>/playlists/, skips bad entries with warnings, uses EXTINF titles', async () => {
    const d = tmpDir();
    const music = path.join(d, 'music');
    write(path.join(music, 'Café – Ü.wav'), wav(0.25));
    write(path.join(music, 'b.wav'), wav(0.3));
    write(path.join(music, 'broken.wav'), 'definitely not a wav file');
    write(path.join(d, 'elsewhere.wav'), wav(0.2));
    write(
      path.join(music, 'playlists', 'z.m3u8'),
      ['#EXTM3U', '#EXTINF:1,Jane Doe - Lovely Café', '../Café – Ü.wav', '../../elsewhere.wav', 'http://example.com/x.mp3', '../missing.wav', '../broken.wav', '../b.wav'].join('\r\n'),
    );
    write(path.join(music, 'playlists', 'a.m3u8'), '#EXTM3U\n../b.wav\n'); // natural-order first
    const first = await loadPlaylist({ musicDir: music });
    expect(first.source).toBe(path.join(music, 'playlists', 'a.m3u8'));
    expect(first.tracks.map((t) => t.path)).toEqual(['b.wav']);

    const r = await loadPlaylist({ musicDir: music, playlistFile: path.join(music, 'playlists', 'z.m3u8') });
    expect(r.tracks.map((t) => t.path)).toEqual(['Café – Ü.wav', 'b.wav']);
    expect(r.tracks[0]).toMatchObject({ title: 'Lovely Café', artist: 'Jane Doe' });
    expect(r.tracks[0]!.durationSec).toBeCloseTo(0.25, 3);
    expect(r.warnings).toHaveLength(4);
    expect(r.warnings[0]).toMatch(/http.*not supported/);
    expect(r.warnings[1]).toMatch(/elsewhere\.wav.*outside the music dir/);
    expect(r.warnings[2]).toMatch(/missing\.wav.*not found/);
    expect(r.warnings[3]).toMatch(/broken\.wav/);
  });

  it('prefers a top-level playlist over playlists/', async () => {
    const d = tmpDir();
    write(path.join(d, 'x.wav'), wav(0.1));
    write(path.join(d, 'top.m3u'), 'x.wav\n');
    write(path.join(d, 'playlists', 'a.m3u8'), '../x.wav\n');
    expect((await loadPlaylist({ musicDir: d })).source).toBe(path.join(d, 'top.m3u'));
  });

  it('throws helpful errors for a missing dir or an empty result', async () => {
    const d = tmpDir();
    await expect(loadPlaylist({ musicDir: path.join(d, 'nope') })).rejects.toThrow(/does not exist/);
    write(path.join(d, 'notes.txt'), 'hi');
    await expect(loadPlaylist({ musicDir: d })).rejects.toThrow(/No playlist and no audio files.*Looked for/s);
    write(path.join(d, 'only-missing.m3u8'), 'gone.mp3\n');
    await expect(loadPlaylist({ musicDir: d })).rejects.toThrow(/no playable entries[\s\S]*gone\.mp3.*not found/);
    await expect(loadPlaylist({ musicDir: d, playlistFile: path.join(d, 'absent.m3u8') })).rejects.toThrow(/Cannot read playlist file/);
  });
});
