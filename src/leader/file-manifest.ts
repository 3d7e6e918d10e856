/**
 * The manifests of the files the leader serves: size and per-chunk SHA-256 (see
 * protocol/file-transfer.ts for why). Computed on the first request for a file version and
 * remembered by (path, size, mtime); concurrent requests share one read. The file is read in
 * 64 KiB pieces so that hashing a large file never holds the event loop for long (time exchanges
 * are answered between pieces).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { TRANSFER, type Manifest } from '../protocol/file-transfer.js';

const MAX_ENTRIES = 256;
const cache = new Map<string, Promise<Manifest>>();

export interface FileVersion {
  size: number;
  mtimeMs: number;
}

export async function fileVersion(absPath: string): Promise<FileVersion> {
  const st = await stat(absPath);
  if (!st.isFile()) throw new Error(`${absPath} is not a regular file`);
  return { size: st.size, mtimeMs: st.mtimeMs };
}

/** The manifest of `absPath` (whose playlist hash is `hash`), from the cache when unchanged. */
export async function manifestFor(absPath: string, hash: string, chunkBytes: number = TRANSFER.CHUNK_BYTES): Promise<Manifest> {
  const v = await fileVersion(absPath);
  const key = `${absPath}\0${v.size}\0${v.mtimeMs}\0${hash}\0${chunkBytes}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = computeManifest(absPath, hash, v.size, chunkBytes);
    cache.set(key, pending);
    while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    pending.catch(() => cache.delete(key));
  }
  const manifest = await pending;
  const after = await fileVersion(absPath).catch(() => null);
  if (!after || after.size !== v.size || after.mtimeMs !== v.mtimeMs) {
    cache.delete(key);
    throw new Error(`${absPath} changed while it was hashed`);
  }
  return manifest;
}

function computeManifest(absPath: string, hash: string, size: number, chunkBytes: number): Promise<Manifest> {
  return new Promise((resolve, reject) => {
    const chunks: string[] = [];
    let h: Hash = createHash('sha256');
    let inChunk = 0;
    let total = 0;
    const s = createReadStream(absPath, { highWaterMark: 64 * 1024 });
    s.on('data', (data) => {
      let buf = data as Buffer;
      total += buf.length;
      while (buf.length > 0) {
        const take = Math.min(buf.length, chunkBytes - inChunk);
        h.update(buf.subarray(0, take));
        inChunk += take;
        buf = buf.subarray(take);
        if (inChunk === chunkBytes) {
          chunks.push(h.digest('hex'));
          h = createHash('sha256');
          inChunk = 0;
        }
      }
    });
    s.on('error', reject);
    s.on('end', () => {
      if (inChunk > 0) chunks.push(h.digest('hex'));
      if (total !== size) reject(new Error(`${absPath} changed while it was hashed (${total} bytes read, ${size} expected)`));
      else resolve({ hash, size, chunkSize: chunkBytes, chunks });
    });
  });
}

export function clearManifestCache(): void {
  cache.clear();
}
