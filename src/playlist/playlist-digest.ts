/** A playlist's identity: sha-256 over its tracks in play order (path and content hash of each). */
import { createHash } from 'node:crypto';
import type { Track } from './track.js';

export function playlistDigest(tracks: readonly Pick<Track, 'path' | 'hash'>[]): string {
  const h = createHash('sha256');
  for (const t of tracks) h.update(`${t.path}\0${t.hash}\n`);
  return h.digest('hex');
}
