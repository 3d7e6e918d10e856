/**
 * The member's side of the file transfer (protocol/file-transfer.ts): opens an authenticated
 * session with the leader's file server, and fetches manifests and chunks, each verified before
 * it is returned — a manifest by its MAC, a chunk by its SHA-256 in the manifest.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { Logger } from '../../log/logger.js';
import { newNonce } from '../../protocol/auth.js';
import {
  HEADER,
  TRANSFER,
  challengeSchema,
  chunkRange,
  macsMatch,
  manifestMac,
  manifestProblem,
  manifestSchema,
  requestMac,
  sessionKey,
  sessionLeaderProof,
  sessionProof,
  sessionReplySchema,
  sha256Hex,
  type Manifest,
} from '../../protocol/file-transfer.js';

export interface FetchClientOptions {
  host: string;
  port: number;
  name: string;
  secret: string | null;
  log: Logger;
  timeoutMs?: number;
}

/** A failure worth retrying (a dropped connection, a bad chunk) rather than giving up on the file. */
export class TransferError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** SHA-256 of a 206 body, computed piece by piece as it arrived (no long hash on the event loop) */
  sha256: string | null;
}

export class FetchClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private session: { id: string; key: Buffer; seq: number } | null = null;

  constructor(private readonly opts: FetchClientOptions) {}

  get target(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  close(): void {
    this.agent.destroy();
  }

  /** The leader's manifest for `hash`, authenticated and consistent. */
  async manifest(hash: string): Promise<Manifest> {
    const path = `/v1/files/${hash}/manifest`;
    const { res, seq, key } = await this.authed('GET', path, '', 64 * 1024 + TRANSFER.MAX_CHUNKS * 70);
    if (res.status !== 200) throw this.refusal(res, `manifest of ${hash.slice(0, 12)}`);
    const body = res.body.toString('utf8');
    if (!macsMatch(manifestMac(key, seq, body), headerOf(res, HEADER.mac))) throw new TransferError('the manifest is not authenticated by the leader (bad MAC)');
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      throw new TransferError('the manifest is not JSON');
    }
    const parsed = manifestSchema.safeParse(raw);
    if (!parsed.success) throw new TransferError(`invalid manifest: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`);
    const problem = manifestProblem(parsed.data, hash);
    if (problem) throw new TransferError(problem);
    return parsed.data;
  }

  /** Chunk `i` of the file, verified against the manifest; `onBytes` hears of the bytes as they come. */
  async chunk(manifest: Manifest, i: number, onBytes?: (n: number) => void): Promise<Buffer> {
    const { start, end } = chunkRange(manifest, i);
    const range = `bytes=${start}-${end - 1}`;
    const { res } = await this.authed('GET', `/v1/files/${manifest.hash}`, range, end - start, onBytes);
    if (res.status !== 206) throw this.refusal(res, `chunk ${i + 1}/${manifest.chunks.length} of ${manifest.hash.slice(0, 12)}`);
    if (res.body.length !== end - start) throw new TransferError(`chunk ${i + 1}/${manifest.chunks.length} truncated: ${res.body.length} of ${end - start} bytes`);
    if ((res.sha256 ?? sha256Hex(res.body)) !== manifest.chunks[i]) throw new TransferError(`chunk ${i + 1}/${manifest.chunks.length} corrupt: its SHA-256 does not match the manifest`);
    return res.body;
  }

  private refusal(res: Response, what: string): TransferError {
    let reason = '';
    try {
      reason = String((JSON.parse(res.body.toString('utf8')) as { error?: unknown }).error ?? '');
    } catch {
      /* not JSON */
    }
    return new TransferError(`leader refused ${what}: ${res.status}${reason ? ` ${reason.slice(0, 300)}` : ''}`, res.status);
  }

  /** An authenticated request; a stale session (the leader restarted or forgot it) is renewed once. */
  private async authed(method: string, path: string, range: string, maxBody: number, onBytes?: (n: number) => void): Promise<{ res: Response; seq: number; key: Buffer }> {
    for (let attempt = 0; ; attempt++) {
      const session = this.session ?? (await this.openSession());
      const seq = ++session.seq;
      const headers: Record<string, string> = {
        [HEADER.session]: session.id,
        [HEADER.seq]: String(seq),
        [HEADER.mac]: requestMac(session.key, method, path, range, seq),
      };
      if (range) headers.range = range;
      const res = await this.send(method, path, headers, null, maxBody, onBytes);
      if (res.status === 401 && attempt === 0) {
        this.session = null;
        continue;
      }
      return { res, seq, key: session.key };
    }
  }

  private async openSession(): Promise<{ id: string; key: Buffer; seq: number }> {
    const challenge = await this.send('GET', '/v1/challenge', {}, null, 4096);
    if (challenge.status !== 200) throw this.refusal(challenge, 'a challenge');
    const c = challengeSchema.safeParse(parseJson(challenge.body));
    if (!c.success) throw new TransferError('invalid challenge from the leader');
    const secret = this.opts.secret ?? '';
    const clientNonce = newNonce();
    const body = JSON.stringify({ name: this.opts.name, nonce: c.data.nonce, clientNonce, proof: sessionProof(secret, c.data.nonce, clientNonce, this.opts.name) });
    const reply = await this.send('POST', '/v1/session', { 'content-type': 'application/json' }, body, 4096);
    if (reply.status === 401) throw new TransferError(this.opts.secret === null ? 'the leader requires a secret for files: pass --secret-file' : 'the leader refused our secret for files', 401);
    if (reply.status !== 200) throw this.refusal(reply, 'a session');
    const r = sessionReplySchema.safeParse(parseJson(reply.body));
    if (!r.success) throw new TransferError('invalid session reply from the leader');
    if (this.opts.secret !== null && !macsMatch(sessionLeaderProof(secret, clientNonce, c.data.nonce, r.data.session), r.data.leaderProof)) {
      throw new TransferError('the file server did not prove it knows the secret; not fetching from it');
    }
    this.session = { id: r.data.session, key: sessionKey(secret, c.data.nonce, clientNonce), seq: 0 };
    return this.session;
  }

  private send(method: string, path: string, headers: Record<string, string>, body: string | null, maxBody: number, onBytes?: (n: number) => void): Promise<Response> {
    const timeoutMs = this.opts.timeoutMs ?? TRANSFER.REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const req = request({ host: this.opts.host, port: this.opts.port, method, path, headers: { ...headers, ...(body !== null ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, agent: this.agent, timeout: timeoutMs }, (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        const hash = res.statusCode === 206 ? createHash('sha256') : null;
        res.on('data', (b: Buffer) => {
          size += b.length;
          if (size > maxBody + 1024) {
            req.destroy(new TransferError(`answer larger than the ${maxBody} bytes asked for`));
            return;
          }
          parts.push(b);
          hash?.update(b);
          if (res.statusCode === 206) onBytes?.(b.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), sha256: hash ? hash.digest('hex') : null }));
        res.on('error', (e) => reject(new TransferError(`transfer broke off: ${e.message}`)));
        res.on('aborted', () => reject(new TransferError('transfer broke off')));
      });
      req.on('timeout', () => req.destroy(new TransferError(`no answer from the file server at ${this.target} within ${timeoutMs / 1000} s`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        reject(e instanceof TransferError ? e : new TransferError(e.code === 'ECONNREFUSED' ? `no file server at ${this.target}` : e.message));
      });
      req.end(body ?? undefined);
    });
  }
}

function headerOf(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return null;
  }
}
