/**
 * What the playlist needs to know about one music file — its content hash and, for the leader,
 * its duration and tags — served from the scan cache when the file is unchanged, else read
 * (and remembered). The leader's scan and a member's check both come through here.
 */
import { stat } from 'node:fs/promises';
import { parseFile } from 'music-metadata';
import { hashFile } from './content-hash.js';
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
export async function fileInfo(absPath: string, opts: { cache: ScanCache | null; meta: boolean }): Promise<FileInfo> {
  const st = await stat(absPath);
  if (!st.isFile()) throw new Error('not a regular file');
  const stamp = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  const cached = opts.cache ? await opts.cache.get(absPath, stamp) : undefined;
  if (cached?.hash && (!opts.meta || cached.meta)) {
    return { hash: cached.hash, ...(cached.meta ? { meta: cached.meta } : {}), fromCache: true };
  }
  let meta = cached?.meta;
  if (opts.meta && !meta) {
    let parsed;
    try {
      parsed = await parseFile(absPath, { duration: true, skipCovers: true });
    } catch (err) {
      throw new Error(`cannot read it as audio (${(err as Error).message})`);
    }
    const durationSec = parsed.format.duration;
    if (durationSec === undefined || !Number.isFinite(durationSec) || durationSec <= 0) throw new Error('its duration could not be determined');
    meta = { durationSec, title: nonEmpty(parsed.common.title), artist: nonEmpty(parsed.common.artist) };
  }
  let hash = cached?.hash;
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

function nonEmpty(s: string | undefined): string | null {
  const t = s?.trim();
  return t ? t : null;
}
