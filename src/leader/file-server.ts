/**
 * The leader's file server: hands the files of the current playlist to members that lack them,
 * over HTTP on a port of its own (see protocol/file-transfer.ts for the protocol and why it is
 * sound). Every request but the challenge is authenticated; only hashes of the current playlist
 * are served, looked up in the playlist and resolved inside the music dir, never a path from the
 * request. All transfers together are paced by one token bucket (--serve-rate).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { monotonicMs } from '../clock/monotonic.js';
import type { Logger } from '../log/logger.js';
import { hashFile } from '../playlist/content-hash.js';
import { resolveInside } from '../playlist/safe-path.js';
import {
  HEADER,
  TRANSFER,
  macsMatch,
  manifestMac,
  parseFilePath,
  requestMac,
  sessionKey,
  sessionLeaderProof,
  sessionProof,
  sessionRequestSchema,
} from '../protocol/file-transfer.js';
import type { Track } from '../protocol/index.js';
import { fileVersion, manifestFor } from './file-manifest.js';
import { TokenBucket, throttle } from './token-bucket.js';

export interface FileServerOptions {
  host: string;
  /** 0: any free port (announced to members in the welcome) */
  port: number;
  musicDir: string;
  secret: string | null;
  /** the keys a member may prove itself with, by name (default: the secret alone) */
  keysFor?: (name: string) => string[];
  tracks: () => readonly Track[];
  log: Logger;
  /** bytes per second for all transfers together (default TRANSFER.SERVE_RATE; 0 = unlimited) */
  rateBytesPerSec?: number;
  chunkBytes?: number;
}

export interface FileServerStats {
  bytesServed: number;
  chunksServed: number;
  manifestsServed: number;
  activeTransfers: number;
  refused: number;
}

interface Session {
  key: Buffer;
  name: string;
  lastSeq: number;
  lastUsedMs: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 4096;

export class FileServer {
  private server: Server | null = null;
  private readonly nonces = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();
  private readonly bucket: TokenBucket;
  private byHash: { tracks: readonly Track[]; map: Map<string, Track> } | null = null;
  readonly stats: FileServerStats = { bytesServed: 0, chunksServed: 0, manifestsServed: 0, activeTransfers: 0, refused: 0 };
  port = 0;

  constructor(private readonly opts: FileServerOptions) {
    const rate = opts.rateBytesPerSec ?? TRANSFER.SERVE_RATE;
    this.bucket = new TokenBucket(rate, Math.min(256 * 1024, Math.max(64 * 1024, rate / 8)));
  }

  get rateBytesPerSec(): number {
    return this.bucket.rate;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = TRANSFER.REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = 30_000;
    server.maxHeadersCount = 50;
    // Bounded: a member needs one connection; a flood of them is refused rather than served.
    server.maxConnections = TRANSFER.MAX_SESSIONS * 2;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.opts.log.error(`file server: ${e.message}`));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://leader');
      if (url.search !== '') throw new HttpError(400, 'no query strings here');
      const path = url.pathname;
      if (req.method === 'GET' && path === '/v1/challenge') return this.json(res, 200, { nonce: this.newNonce() });
      if (req.method === 'POST' && path === '/v1/session') return this.json(res, 200, await this.openSession(req));
      const target = parseFilePath(path);
      if (!target || req.method !== 'GET') throw new HttpError(404, 'files are named by content hash: GET /v1/files/<sha256>[/manifest]');
      const { session, seq } = this.authenticate(req, path);
      const track = this.trackFor(target.hash);
      if (!track) throw new HttpError(404, `${target.hash.slice(0, 12)} is not in the current playlist`);
      const absPath = await this.pathOf(track);
      if (target.manifest) return await this.sendManifest(res, session, seq, absPath, track.hash);
      return await this.sendRange(req, res, absPath, track.hash);
    } catch (e) {
      if (res.headersSent) {
        // The transfer broke off (usually the member went away): nothing to answer.
        this.opts.log.debug(`file server: transfer ended early: ${(e as Error).message}`);
        res.destroy();
        return;
      }
      const err = e instanceof HttpError ? e : new HttpError(500, (e as Error).message);
      if (err.status === 401 || err.status === 403 || err.status === 404 || err.status === 400) this.stats.refused += 1;
      if (err.status >= 500) this.opts.log.warn(`file server: ${err.message}`);
      else this.opts.log.debug(`file server: ${req.method} ${JSON.stringify((req.url ?? '').slice(0, 200))} refused: ${err.status} ${err.message}`);
      this.json(res, err.status, { error: err.message });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
    res.end(text);
  }

  private newNonce(): string {
    const now = monotonicMs();
    for (const [n, expires] of this.nonces) if (expires < now) this.nonces.delete(n);
    while (this.nonces.size >= TRANSFER.MAX_NONCES) this.nonces.delete(this.nonces.keys().next().value!);
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, now + TRANSFER.NONCE_TTL_MS);
    return nonce;
  }

  private async openSession(req: IncomingMessage): Promise<{ session: string; leaderProof: string }> {
    const body = await readBody(req, MAX_BODY_BYTES);
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'session request is not JSON');
    }
    const parsed = sessionRequestSchema.safeParse(raw);
    if (!parsed.success) throw new HttpError(400, `invalid session request: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`);
    const { name, nonce, clientNonce, proof } = parsed.data;
    const expires = this.nonces.get(nonce);
    this.nonces.delete(nonce);
    if (expires === undefined || expires < monotonicMs()) throw new HttpError(401, 'unknown or expired challenge: GET /v1/challenge again');
    // The party secret, or the member's own key from its pairing (see party/party-access.ts).
    const candidates = this.opts.keysFor ? this.opts.keysFor(name) : [this.opts.secret ?? ''];
    const secret = candidates.find((k) => macsMatch(sessionProof(k, nonce, clientNonce, name), proof));
    if (secret === undefined) {
      this.opts.log.warn(`file server: refused a session for ${JSON.stringify(name)} from ${req.socket.remoteAddress ?? '?'}: wrong secret`);
      throw new HttpError(401, 'wrong secret');
    }
    const now = monotonicMs();
    for (const [id, s] of this.sessions) if (now - s.lastUsedMs > TRANSFER.SESSION_IDLE_MS) this.sessions.delete(id);
    while (this.sessions.size >= TRANSFER.MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const session = randomBytes(16).toString('hex');
    this.sessions.set(session, { key: sessionKey(secret, nonce, clientNonce), name, lastSeq: 0, lastUsedMs: now });
    return { session, leaderProof: sessionLeaderProof(secret, clientNonce, nonce, session) };
  }

  /** Checks the request's session, sequence number and MAC; spends the sequence number. */
  private authenticate(req: IncomingMessage, path: string): { session: Session; seq: number } {
    const id = header(req, HEADER.session);
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) throw new HttpError(401, 'no valid session: POST /v1/session first');
    const seqText = header(req, HEADER.seq) ?? '';
    const seq = /^\d{1,15}$/.test(seqText) ? Number(seqText) : NaN;
    if (!Number.isSafeInteger(seq)) throw new HttpError(401, 'missing or invalid sequence number');
    const range = header(req, 'range') ?? '';
    if (!macsMatch(requestMac(session.key, req.method ?? '', path, range, seq), header(req, HEADER.mac))) throw new HttpError(401, 'request not authenticated (bad MAC)');
    if (seq <= session.lastSeq) throw new HttpError(401, 'replayed request (sequence number already used)');
    session.lastSeq = seq;
    session.lastUsedMs = monotonicMs();
    return { session, seq };
  }

  private trackFor(hash: string): Track | undefined {
    const tracks = this.opts.tracks();
    if (this.byHash?.tracks !== tracks) this.byHash = { tracks, map: new Map(tracks.map((t) => [t.hash, t])) };
    return this.byHash.map.get(hash);
  }

  /** The track's file in the music dir, checked to still have the playlist's hash. */
  private async pathOf(track: Track): Promise<string> {
    const resolved = resolveInside(this.opts.musicDir, track.path);
    if (!resolved.ok) throw new HttpError(403, `track "${track.path}" is not servable: ${resolved.reason}`);
    let hash: string;
    try {
      hash = await hashFile(resolved.absPath);
    } catch (e) {
      throw new HttpError(503, `cannot read "${track.path}" here: ${(e as Error).message}`);
    }
    if (hash !== track.hash) throw new HttpError(409, `"${track.path}" changed on the leader since the playlist was loaded`);
    return resolved.absPath;
  }

  private async sendManifest(res: ServerResponse, session: Session, seq: number, absPath: string, hash: string): Promise<void> {
    const manifest = await manifestFor(absPath, hash, this.opts.chunkBytes ?? TRANSFER.CHUNK_BYTES);
    const body = JSON.stringify(manifest);
    this.stats.manifestsServed += 1;
    this.json(res, 200, manifest, { [HEADER.mac]: manifestMac(session.key, seq, body) });
  }

  private async sendRange(req: IncomingMessage, res: ServerResponse, absPath: string, hash: string): Promise<void> {
    const { size } = await fileVersion(absPath);
    const m = /^bytes=(\d{1,15})-(\d{1,15})$/.exec(header(req, 'range') ?? '');
    if (!m) throw new HttpError(416, 'ask for one byte range: Range: bytes=START-END');
    const start = Number(m[1]);
    const end = Number(m[2]); // inclusive
    const maxSpan = 8 * (this.opts.chunkBytes ?? TRANSFER.CHUNK_BYTES);
    if (end < start || end >= size || end - start + 1 > maxSpan) throw new HttpError(416, `range ${start}-${end} is not within the file's ${size} bytes (at most ${maxSpan} at a time)`);
    res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}`, 'x-syncplay-hash': hash });
    this.stats.activeTransfers += 1;
    let sent = 0;
    const counter = throttle(this.bucket);
    counter.on('data', (b: Buffer) => (sent += b.length));
    try {
      await pipeline(createReadStream(absPath, { start, end, highWaterMark: 64 * 1024 }), counter, res);
      this.stats.chunksServed += 1;
    } finally {
      this.stats.bytesServed += sent;
      this.stats.activeTransfers -= 1;
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        reject(new HttpError(413, `body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      parts.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
