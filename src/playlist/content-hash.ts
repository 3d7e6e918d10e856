import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const MAX_ENTRIES = 10_000;

/** (absPath, size, mtimeMs) → sha256; Map keeps insertion order, used for LRU-ish eviction. */
const cache = new Map<string, Promise<string>>();
const stats = { hits: 0, misses: 0 };

/** Files up to this size are hashed whole. */
export const WHOLE_FILE_HASH_LIMIT = 3 * 1024 * 1024;
const SAMPLE_BYTES = 1024 * 1024;

/**
 * The content identity of a music file (lowercase hex sha256). Files up to 3 MiB: the sha256 of
 * the whole content. Larger files: the sha256 of their size and three 1 MiB samples (start,
 * middle, end), so a member with a 30 GB library can check it in seconds on a Pi rather than
 * read it all; a different encode, edit or truncation of a track changes every sample, and the
 * size. Results are cached by
 * (absolute path, size, mtimeMs): hashing an unchanged file again costs one stat().
 * Concurrent calls for the same unchanged file share a single read.
 */
export async function hashFile(absPath: string): Promise<string> {
  const p = path.resolve(absPath);
  const st = await stat(p);
  if (!st.isFile()) throw new Error(`Cannot hash "${p}": not a regular file`);
  const key = `${p}\0${st.size}\0${st.mtimeMs}`;
  const cached = cache.get(key);
  if (cached) {
    stats.hits++;
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  stats.misses++;
  // A small file in one read (no stream and its 1 MiB buffers); a bigger one sampled.
  const pending = st.size <= WHOLE_FILE_HASH_LIMIT ? readFile(p).then(hashContent) : sampledSha256(p, st.size);
  cache.set(key, pending);
  while (cache.size > MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest === undefined) break;
    cache.delete(oldest);
  }
  try {
    const hash = await pending;
    // If the file changed while it was read, the hash may describe neither version: don't keep it.
    const after = await stat(p).catch(() => undefined);
    if (!after || after.size !== st.size || after.mtimeMs !== st.mtimeMs) cache.delete(key);
    return hash;
  } catch (err) {
    cache.delete(key);
    throw err;
  }
}

/**
 * The content identity of a whole file already in memory: for a file of at most
 * WHOLE_FILE_HASH_LIMIT bytes, the same as hashFile() gives (a scan that reads a small file once
 * for its tags hashes the same bytes instead of reading it again).
 */
export function hashContent(content: Uint8Array): string {
  if (content.length > WHOLE_FILE_HASH_LIMIT) throw new Error(`hashContent is for files up to ${WHOLE_FILE_HASH_LIMIT} bytes (larger ones are sampled: use hashFile)`);
  return createHash('sha256').update(content).digest('hex');
}

async function sampledSha256(absPath: string, size: number): Promise<string> {
  const h = createHash('sha256');
  h.update(`syncplay-sampled-v1\0${size}\0`);
  const handle = await open(absPath, 'r');
  try {
    const buffer = Buffer.alloc(SAMPLE_BYTES);
    for (const offset of [0, Math.floor((size - SAMPLE_BYTES) / 2), size - SAMPLE_BYTES]) {
      const { bytesRead } = await handle.read(buffer, 0, SAMPLE_BYTES, offset);
      h.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return h.digest('hex');
}

/** Short form for display: the first 12 hex digits. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

export function clearHashCache(): void {
  cache.clear();
  stats.hits = 0;
  stats.misses = 0;
}

/** Cache counters since start / the last clearHashCache(): hits = served without reading. */
export function hashCacheStats(): { hits: number; misses: number; entries: number } {
  return { hits: stats.hits, misses: stats.misses, entries: cache.size };
}
