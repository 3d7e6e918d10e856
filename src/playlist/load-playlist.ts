import fs from 'node:fs/promises';
import path from 'node:path';
import { fileInfo } from './file-info.js';
import { parseM3u } from './m3u.js';
import type { Progress } from './progress.js';
import type { ScanCache } from './scan-cache.js';
import { RealPathCache, resolveInside, toRelativeInside } from './safe-path.js';
import { AUDIO_EXTENSIONS, naturalCompare, scanMusicDir } from './scan.js';
import type { Track } from './track.js';

export interface LoadPlaylistOptions {
  /** Folder holding the music files (same layout on every device). */
  musicDir: string;
  /** Optional m3u/m3u8 file; relative paths are resolved against the current directory. */
  playlistFile?: string;
  /** where unchanged files' hashes, durations and tags are remembered (null: read every file) */
  cache?: ScanCache | null;
  /** advanced as files are found and read */
  progress?: Progress;
}

export interface LoadedPlaylist {
  tracks: Track[];
  /** One message per skipped entry / unreadable folder; empty when everything loaded. */
  warnings: string[];
  /** Absolute path of the playlist file used, or `scan:<musicDir>` when the folder was scanned. */
  source: string;
}

interface Candidate {
  relPath: string;
  /** How to name the entry in messages. */
  label: string;
  extinfTitle?: string;
}

/** Tunables of the scan. */
export const SCAN = {
  /** files read at once: enough to keep a disk and both cores busy, few enough to leave the event loop responsive */
  CONCURRENCY: 8,
  /** how often the cache is saved while scanning, so a scan cut short is not lost */
  SAVE_EVERY_MS: 10_000,
} as const;

/**
 * Builds the playlist for `musicDir`:
 * - `playlistFile` given: its entries, in order;
 * - otherwise the first (natural order) *.m3u8 / *.m3u directly in `musicDir`, else in
 *   `<musicDir>/playlists/`, else every audio file under `musicDir` (natural order).
 * Entries outside the music dir, missing or unreadable are skipped with a warning.
 * Each track gets its duration/tags from music-metadata and a sha256 content hash.
 * Throws when the music dir is missing or no playable track remains.
 */
export async function loadPlaylist(opts: LoadPlaylistOptions): Promise<LoadedPlaylist> {
  const musicDir = path.resolve(opts.musicDir);
  await assertDirectory(musicDir);

  const warnings: string[] = [];
  let source: string;
  let candidates: Candidate[];

  const playlistFile = opts.playlistFile !== undefined ? path.resolve(opts.playlistFile) : await findPlaylistFile(musicDir);
  if (playlistFile !== undefined) {
    source = playlistFile;
    let text: string;
    try {
      text = await fs.readFile(playlistFile, 'utf8');
    } catch (err) {
      throw new Error(
        `Cannot read playlist file "${playlistFile}": ${(err as Error).message}. ` +
          'Check the path, or omit the playlist to use the music dir\'s own playlist or all of its audio files.',
      );
    }
    candidates = [];
    for (const entry of parseM3u(text, playlistFile, warnings)) {
      const label = `${path.basename(playlistFile)}${entry.line !== undefined ? `:${entry.line}` : ''} "${entry.location}"`;
      const rel = toRelativeInside(musicDir, entry.location);
      if (rel === null) {
        warnings.push(`Skipping ${label}: it is outside the music dir ${musicDir} (every track must live inside it so that all devices can find it by the same relative path).`);
        continue;
      }
      const c: Candidate = { relPath: rel, label };
      if (entry.extinfTitle !== undefined) c.extinfTitle = entry.extinfTitle;
      candidates.push(c);
    }
  } else {
    source = `scan:${musicDir}`;
    const progress = opts.progress;
    candidates = (await scanMusicDir(musicDir, { warnings, ...(progress ? { onFound: (n: number) => (progress.total = n) } : {}) })).map((rel) => ({ relPath: rel, label: `"${rel}"` }));
  }

  const cache = opts.cache ?? null;
  const progress = opts.progress;
  if (progress) {
    progress.total = candidates.length;
    progress.phase = 'reading';
  }
  let savedAt = Date.now();
  const realPaths = new RealPathCache();
  const loaded = await mapLimit(candidates, SCAN.CONCURRENCY, async (c) => {
    const t = await loadTrack(musicDir, c, cache, realPaths);
    progress?.step(typeof t !== 'string' && t.fromCache);
    if (cache && Date.now() - savedAt > SCAN.SAVE_EVERY_MS) {
      savedAt = Date.now();
      void cache.save();
    }
    return typeof t === 'string' ? t : t.track;
  });
  await cache?.save();
  progress?.finish();
  const tracks: Track[] = [];
  for (const t of loaded) {
    if (typeof t === 'string') warnings.push(t); // in playlist order
    else tracks.push(t);
  }

  if (tracks.length === 0) {
    const what =
      playlistFile !== undefined
        ? `The playlist "${playlistFile}" has no playable entries (${candidates.length} entr${candidates.length === 1 ? 'y' : 'ies'} inside the music dir).`
        : `No playlist and no audio files were found in the music dir "${musicDir}". ` +
          `Looked for *.m3u8/*.m3u in "${musicDir}" and "${path.join(musicDir, 'playlists')}", then for audio files ` +
          `(${[...AUDIO_EXTENSIONS].join(', ')}) in all non-hidden sub-folders.`;
    const details = warnings.length > 0 ? `\nProblems:\n  - ${warnings.join('\n  - ')}` : '';
    throw new Error(
      `${what} Fix: put audio files (or an m3u8 playlist with paths relative to it) into the music dir, ` +
        `or point to a different music dir/playlist.${details}`,
    );
  }
  return { tracks, warnings, source };
}

/** Throws a clear error unless `musicDir` is a folder (checked before the leader starts listening). */
export async function assertDirectory(musicDir: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(musicDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `Music dir "${musicDir}" does not exist. Create it and put your music files there, or point to the folder that ` +
            'already holds them (every device needs the same files under the same relative paths).'
        : `Cannot access music dir "${musicDir}": ${(err as Error).message}`,
    );
  }
  if (!st.isDirectory()) throw new Error(`Music dir "${musicDir}" is not a folder. Point to the folder that holds your music files.`);
}

async function findPlaylistFile(musicDir: string): Promise<string | undefined> {
  for (const dir of [musicDir, path.join(musicDir, 'playlists')]) {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const names = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.') && /\.m3u8?$/i.test(e.name))
      .map((e) => e.name)
      .sort(naturalCompare);
    for (const name of names) {
      const abs = path.join(dir, name);
      const st = await fs.stat(abs).catch(() => undefined);
      if (st?.isFile()) return abs;
    }
  }
  return undefined;
}

/** The track, or a warning explaining why the entry is skipped. */
async function loadTrack(musicDir: string, c: Candidate, cache: ScanCache | null, realPaths: RealPathCache): Promise<{ track: Track; fromCache: boolean } | string> {
  const skip = (why: string): string => `Skipping ${c.label}: ${why}.`;
  const r = resolveInside(musicDir, c.relPath, realPaths);
  if (!r.ok) return skip(r.reason);
  const st = await fs.stat(r.absPath).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) {
    return skip(st.code === 'ENOENT' ? `file not found (looked for ${r.absPath})` : `cannot access file (${st.message})`);
  }
  if (!st.isFile()) return skip('not a regular file');

  let info;
  try {
    info = await fileInfo(r.absPath, { cache, meta: true, stat: st });
  } catch (err) {
    return skip((err as Error).message);
  }
  const meta = info.meta!;
  const hash = info.hash;

  const extinf = splitArtistTitle(c.extinfTitle);
  const title = meta.title ?? extinf.title ?? path.posix.basename(c.relPath, path.posix.extname(c.relPath));
  const artist = meta.artist ?? extinf.artist;
  const track: Track = { path: c.relPath, hash, durationSec: meta.durationSec, title };
  if (artist !== undefined) track.artist = artist;
  return { track, fromCache: info.fromCache };
}

/** "Artist - Title" → both parts; anything else is the title alone. */
function splitArtistTitle(s: string | undefined): { artist?: string; title?: string } {
  const text = nonEmpty(s);
  if (text === undefined) return {};
  const i = text.indexOf(' - ');
  if (i < 0) return { title: text };
  const artist = nonEmpty(text.slice(0, i));
  const title = nonEmpty(text.slice(i + 3));
  if (artist === undefined || title === undefined) return { title: text };
  return { artist, title };
}

function nonEmpty(s: string | undefined): string | undefined {
  const t = s?.trim();
  return t ? t : undefined;
}

/** Order-preserving map with at most `limit` calls in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}
