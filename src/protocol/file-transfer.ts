/**
 * Moving a playlist file from the leader to a member that lacks it: what crosses the wire, how it
 * is authenticated and why a member can trust what it stores.
 *
 * Transport. Files travel over HTTP/1.1 on a port of their own, served by the leader
 * (file-server.ts) and announced in the welcome message. Bulk bytes therefore never share a TCP
 * connection with the control messages: a 1 MiB chunk in flight cannot delay a time exchange or
 * a timeline by head-of-line blocking, and the leader's send rate is capped (SERVE_RATE) so the
 * shared link's queues stay short too. HTTP rather than a bespoke framing because ranges, keep-alive
 * and error statuses are already defined (and `curl` can debug it); the body of a chunk is plain
 * bytes, so a member never parses untrusted data beyond a small JSON manifest.
 *
 * Authentication: the control connection's challenge–response, once per transfer session.
 *   GET  /v1/challenge                    → { nonce }              (single use, expires, bounded)
 *   POST /v1/session { name, nonce, clientNonce, proof }           proof = HMAC(secret, "fetch-member|nonce|clientNonce|name")
 *        → { session, leaderProof }                               leaderProof = HMAC(secret, "fetch-leader|clientNonce|nonce|session")
 *   Both sides derive key = HMAC(secret, "fetch-key|nonce|clientNonce"); it never crosses the wire.
 *   Every later request carries the session id, a sequence number that must grow, and
 *   mac = HMAC(key, "METHOD path|range|seq"): a request cannot be forged without the secret, nor
 *   replayed (its seq is spent). The manifest response carries HMAC(key, "manifest|seq|sha256(body)"),
 *   so a stranger on the LAN who answers in the leader's place cannot make a member accept a file.
 *   Without a party secret (an open party) the same exchange runs with an empty secret: anyone may
 *   fetch, exactly as anyone may join.
 *
 * Addressing. Only by the playlist's content hash (GET /v1/files/<hash>/manifest, GET /v1/files/<hash>
 * with a Range of one chunk), and only hashes of the current playlist: no path ever comes from the
 * member, so nothing outside the playlist can be named.
 *
 * Why a stored file is the leader's file. The playlist hash identifies a file but is sampled above
 * 3 MiB (content-hash.ts), so it cannot vouch for every byte. The leader therefore computes, on
 * demand and once per file version, a manifest: the file's size and the SHA-256 of each CHUNK_BYTES
 * piece. The manifest arrives MACed with the session key (so it is the leader's), every chunk is
 * checked against its SHA-256 before it is written, and the file is the concatenation of exactly
 * `ceil(size / chunkSize)` verified chunks; so every byte is what the leader hashed (SHA-256 second
 * preimages being infeasible). Finally the member computes the playlist hash of the assembled
 * file and compares it with the hash the playlist named, which binds the bytes to the playlist
 * entry that came over the authenticated control connection. A corrupt or truncated chunk costs
 * one chunk, not the file; a resumed download re-verifies the chunks already on disk instead of
 * trusting them.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

import { TRANSFER } from './transfer-tunables.js';

// The tunables live in a module of their own (no zod): the command line reads their defaults.
export { TRANSFER };

export const manifestSchema = z.object({
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  chunkSize: z.number().int().min(64 * 1024).max(64 * 1024 * 1024),
  chunks: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(TRANSFER.MAX_CHUNKS),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const challengeSchema = z.object({ nonce: z.string().regex(/^[0-9a-f]{32}$/) });
export const sessionRequestSchema = z.object({
  name: z.string().min(1).max(64),
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  clientNonce: z.string().regex(/^[0-9a-f]{32}$/),
  proof: z.string().regex(/^[0-9a-f]{64}$/),
});
export const sessionReplySchema = z.object({ session: z.string().regex(/^[0-9a-f]{32}$/), leaderProof: z.string().regex(/^[0-9a-f]{64}$/) });

export const HEADER = { session: 'x-syncplay-session', seq: 'x-syncplay-seq', mac: 'x-syncplay-mac' } as const;

const hmac = (key: string | Buffer, text: string): string => createHmac('sha256', key).update(text).digest('hex');

export function sessionProof(secret: string, nonce: string, clientNonce: string, name: string): string {
  return hmac(secret, `fetch-member|${nonce}|${clientNonce}|${name}`);
}
export function sessionLeaderProof(secret: string, clientNonce: string, nonce: string, session: string): string {
  return hmac(secret, `fetch-leader|${clientNonce}|${nonce}|${session}`);
}
export function sessionKey(secret: string, nonce: string, clientNonce: string): Buffer {
  return createHmac('sha256', secret).update(`fetch-key|${nonce}|${clientNonce}`).digest();
}
export function requestMac(key: Buffer, method: string, path: string, range: string, seq: number): string {
  return hmac(key, `${method} ${path}|${range}|${seq}`);
}
export function manifestMac(key: Buffer, seq: number, body: string): string {
  return hmac(key, `manifest|${seq}|${sha256Hex(body)}`);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time comparison of two hex strings (false when either is missing). */
export function macsMatch(expected: string, given: string | undefined | null): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A manifest is consistent when its chunk count covers exactly `size` bytes. */
export function manifestProblem(m: Manifest, expectedHash: string): string | null {
  if (m.hash !== expectedHash) return `manifest is for ${m.hash.slice(0, 12)}, not ${expectedHash.slice(0, 12)}`;
  const want = m.size === 0 ? 0 : Math.ceil(m.size / m.chunkSize);
  if (m.chunks.length !== want) return `manifest lists ${m.chunks.length} chunks for ${m.size} bytes in ${m.chunkSize}-byte chunks (expected ${want})`;
  return null;
}

/** The byte range [start, end) of chunk `i`. */
export function chunkRange(m: Pick<Manifest, 'size' | 'chunkSize'>, i: number): { start: number; end: number } {
  const start = i * m.chunkSize;
  return { start, end: Math.min(m.size, start + m.chunkSize) };
}

/** "/v1/files/<hash>" or ".../manifest" → the hash and what is asked, or null for anything else. */
export function parseFilePath(path: string): { hash: string; manifest: boolean } | null {
  const m = /^\/v1\/files\/([0-9a-f]{64})(\/manifest)?$/.exec(path);
  return m ? { hash: m[1]!, manifest: m[2] !== undefined } : null;
}
