/**
 * What the playlist needs to know about one music file — its content hash and, for the leader,
 * its duration and tags — served from the scan cache when the file is unchanged, else read
 * (and remembered). The leader's scan and a member's check both come through here.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IAudioMetadata } from 'music-metadata';
import { hashContent, hashFile, WHOLE_FILE_HASH_LIMIT } from './content-hash.js';
import type { ScanCache, ScanRecord } from './scan-cache.js';

export interface FileInfo {
  hash: string;
  meta?: NonNullable<ScanRecord['meta']>;
  /** served by the scan cache without reading the file */
  fromCache: boolean;
}

/**
 * The hash (and with `meta`, duration and tags) of the regular file `absPath`. Throws with a
 * plain message when it cannot be read, is not a regular file, or (with `meta`) is not audio
 * whose duration can be determined.
 */
export async function fileInfo(absPath: string, opts: { cache: ScanCache | null; meta: boolean; stat?: Stats }): Promise<FileInfo> {
  const st = opts.stat ?? (await stat(absPath));
  if (!st.isFile()) throw new Error('not a regular file');
  const stamp = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  const cached = opts.cache ? await opts.cache.get(absPath, stamp) : undefined;
  if (cached?.hash && (!opts.meta || cached.meta)) {
    return { hash: cached.hash, ...(cached.meta ? { meta: cached.meta } : {}), fromCache: true };
  }
  let meta = cached?.meta;
  let hash = cached?.hash;
  // For the leader's scan a small file is read once, for its tags and its hash both (most of a
  // library's files on a cold scan: one open and one read instead of two).
  const content = opts.meta && !meta && st.size <= WHOLE_FILE_HASH_LIMIT ? await readWhole(absPath) : null;
  if (opts.meta && !meta) meta = await readMeta(absPath, content);
  if (!hash && content && content.length <= WHOLE_FILE_HASH_LIMIT) hash = hashContent(content);
  if (!hash) {
    try {
      hash = await hashFile(absPath);
    } catch (err) {
      throw new Error(`cannot read it (${(err as Error).message})`);
    }
  }
  // Remember it only if the file did not change while it was read.
  const after = await stat(absPath).catch(() => null);
  if (opts.cache && after && after.size === st.size && after.mtimeMs === st.mtimeMs && after.ino === st.ino) {
    await opts.cache.set(absPath, { ...stamp, hash, ...(meta ? { meta } : {}) });
  }
  return { hash, ...(meta ? { meta } : {}), fromCache: false };
}

async function readWhole(absPath: string): Promise<Buffer> {
  try {
    return await readFile(absPath);
  } catch (err) {
    throw new Error(`cannot read it (${(err as Error).message})`);
  }
}

/** music-metadata, loaded on the first file that is not in the scan cache (a warm start never needs it). */
let musicMetadata: Promise<typeof import('music-metadata')> | null = null;

/** Duration and tags, from the bytes in memory when there are (`content`), else from the file. */
async function readMeta(absPath: string, content: Buffer | null): Promise<NonNullable<ScanRecord['meta']>> {
  let parsed: IAudioMetadata;
  try {
    const mm = await (musicMetadata ??= import('music-metadata'));
    const options = { duration: true, skipCovers: true };
    // The path picks the parser by extension, as parseFile does; the size lets a CBR MP3's duration come from it.
    parsed = content ? await mm.parseBuffer(content, { path: absPath, size: content.length }, options) : await mm.parseFile(absPath, options);
  } catch (err) {
    throw new Error(`cannot read it as audio (${(err as Error).message})`);
  }
  const durationSec = parsed.format.duration;
  if (durationSec === undefined || !Number.isFinite(durationSec) || durationSec <= 0) throw new Error('its duration could not be determined');
  return { durationSec, title: nonEmpty(parsed.common.title), artist: nonEmpty(parsed.common.artist) };
}

function nonEmpty(s: string | undefined): string | null {
  const t = s?.trim();
  return t ? t : null;
}
