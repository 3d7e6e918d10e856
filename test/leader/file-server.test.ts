/**
 * The leader's file server with the member's real client over real sockets: what is served, what
 * is refused (requests outside the playlist, unauthenticated, forged or replayed ones), and that
 * the rate cap holds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileServer } from '../../src/leader/file-server.js';
import { createLogger } from '../../src/log/logger.js';
import { FetchClient } from '../../src/member/fetch/fetch-client.js';
import { hashFile } from '../../src/playlist/content-hash.js';
import { HEADER, requestMac, sessionKey } from '../../src/protocol/file-transfer.js';
import type { Track } from '../../src/protocol/index.js';

const log = createLogger('error', 'test');
const SECRET = 'party-secret-for-tests';
const CHUNK = 64 * 1024;

let dir: string;
let tracks: Track[];
let outsideHash: string;
let server: FileServer | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'syncplay-files-'));
  writeFileSync(join(dir, 'a.ogg'), randomBytes(5 * CHUNK + 123));
  writeFileSync(join(dir, 'b.ogg'), randomBytes(4 * 1024 * 1024 + 7)); // above the sampled-hash limit
  writeFileSync(join(dir, 'not-in-playlist.ogg'), randomBytes(1000));
  tracks = [];
  for (const name of ['a.ogg', 'b.ogg']) tracks.push({ path: name, hash: await hashFile(join(dir, name)), durationSec: 10, title: name });
  outsideHash = await hashFile(join(dir, 'not-in-playlist.ogg'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function startServer(o: { secret?: string | null; rate?: number } = {}): Promise<FileServer> {
  server = new FileServer({ host: '127.0.0.1', port: 0, musicDir: dir, secret: o.secret === undefined ? SECRET : o.secret, tracks: () => tracks, log, rateBytesPerSec: o.rate ?? 0, chunkBytes: CHUNK });
  await server.start();
  return server;
}

function client(secret: string | null = SECRET): FetchClient {
  return new FetchClient({ host: '127.0.0.1', port: server!.port, name: 'tester', secret, log });
}

/** A raw HTTP request: the test speaks to the server as a stranger would. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server!.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a session by the protocol with `secret`; returns its id and key. */
async function openSession(secret: string): Promise<{ id: string; key: Buffer }> {
  const { nonce } = JSON.parse((await raw('GET', '/v1/challenge')).body) as { nonce: string };
  const clientNonce = randomBytes(16).toString('hex');
  const { sessionProof } = await import('../../src/protocol/file-transfer.js');
  const reply = await raw('POST', '/v1/session', { 'content-type': 'application/json' }, JSON.stringify({ name: 'raw', nonce, clientNonce, proof: sessionProof(secret, nonce, clientNonce, 'raw') }));
  expect(reply.status).toBe(200);
  return { id: (JSON.parse(reply.body) as { session: string }).session, key: sessionKey(secret, nonce, clientNonce) };
}

describe('file server', () => {
  it('serves a playlist file chunk by chunk; every chunk matches the manifest and the whole the file', async () => {
    await startServer();
    const c = client();
    for (const t of tracks) {
      const manifest = await c.manifest(t.hash);
      const original = readFileSync(join(dir, t.path));
      expect(manifest.size).toBe(original.length);
      expect(manifest.chunks).toHaveLength(Math.ceil(original.length / CHUNK));
      const parts: Buffer[] = [];
      for (let i = 0; i < manifest.chunks.length; i++) parts.push(await c.chunk(manifest, i));
      const whole = Buffer.concat(parts);
      expect(createHash('sha256').update(whole).digest('hex')).toBe(createHash('sha256').update(original).digest('hex'));
    }
    // The server books a transfer once its stream has finished, which may be just after the client has it all.
    for (let i = 0; i < 100 && server!.stats.activeTransfers > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server!.stats.bytesServed).toBe(tracks.reduce((n, t) => n + readFileSync(join(dir, t.path)).length, 0));
    c.close();
  });

  it('refuses hashes outside the playlist and anything named by path', async () => {
    await startServer();
    const c = client();
    await expect(c.manifest(outsideHash)).rejects.toThrow(/404 .*not in the current playlist/);
    const { id, key } = await openSession(SECRET);
    let seq = 1;
    for (const path of ['/v1/files/a.ogg', '/v1/files/../../etc/passwd', '/a.ogg', '/v1/files/%2e%2e%2fetc%2fpasswd', `/v1/files/${tracks[0]!.hash}?path=../x`, '/etc/passwd']) {
      const s = seq++;
      const res = await raw('GET', path, { [HEADER.session]: id, [HEADER.seq]: String(s), [HEADER.mac]: requestMac(key, 'GET', path, '', s) });
      expect([400, 404], `${path} → ${res.status} ${res.body}`).toContain(res.status);
      expect(res.body).not.toMatch(/root:/);
    }
    c.close();
  });

  it('refuses unauthenticated, wrongly keyed, forged and replayed requests', async () => {
    await startServer();
    const path = `/v1/files/${tracks[0]!.hash}/manifest`;
    // no session at all
    expect((await raw('GET', path)).status).toBe(401);
    // a made-up session
    expect((await raw('GET', path, { [HEADER.session]: 'f'.repeat(32), [HEADER.seq]: '1', [HEADER.mac]: '0'.repeat(64) })).status).toBe(401);
    // a session with the wrong secret is refused at the door
    await expect(client('not-the-secret').manifest(tracks[0]!.hash)).rejects.toThrow(/refused our secret/);
    await expect(client(null).manifest(tracks[0]!.hash)).rejects.toThrow(/requires a secret/);
    // a real session: a bad MAC, then a good request, then the same request replayed
    const { id, key } = await openSession(SECRET);
    expect((await raw('GET', path, { [HEADER.session]: id, [HEADER.seq]: '1', [HEADER.mac]: requestMac(key, 'GET', `/v1/files/${tracks[1]!.hash}/manifest`, '', 1) })).status).toBe(401);
    const good = { [HEADER.session]: id, [HEADER.seq]: '2', [HEADER.mac]: requestMac(key, 'GET', path, '', 2) };
    expect((await raw('GET', path, good)).status).toBe(200);
    const replay = await raw('GET', path, good);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatch(/replayed/);
    // a challenge is single use
    const { nonce } = JSON.parse((await raw('GET', '/v1/challenge')).body) as { nonce: string };
    const { sessionProof } = await import('../../src/protocol/file-transfer.js');
    const body = (cn: string): string => JSON.stringify({ name: 'raw', nonce, clientNonce: cn, proof: sessionProof(SECRET, nonce, cn, 'raw') });
    expect((await raw('POST', '/v1/session', {}, body('a'.repeat(32)))).status).toBe(200);
    expect((await raw('POST', '/v1/session', {}, body('b'.repeat(32)))).status).toBe(401);
    // garbage bodies get a clear 400
    const junk = await raw('POST', '/v1/session', {}, '{"name":');
    expect(junk.status).toBe(400);
  });

  it('a member refuses a file server that cannot prove the secret', async () => {
    // An impostor on the port: hands out challenges and accepts any session, but its proof is a guess.
    const { createServer } = await import('node:http');
    const impostor = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/v1/challenge' ? JSON.stringify({ nonce: randomBytes(16).toString('hex') }) : JSON.stringify({ session: randomBytes(16).toString('hex'), leaderProof: randomBytes(32).toString('hex') }));
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', () => r()));
    const port = (impostor.address() as { port: number }).port;
    const c = new FetchClient({ host: '127.0.0.1', port, name: 'tester', secret: SECRET, log });
    await expect(c.manifest(tracks[0]!.hash)).rejects.toThrow(/did not prove it knows the secret/);
    c.close();
    impostor.closeAllConnections();
    await new Promise<void>((r) => impostor.close(() => r()));
  });

  it('keeps all transfers together under the configured rate', async () => {
    const rate = 512 * 1024;
    await startServer({ rate });
    const c = client();
    const manifest = await c.manifest(tracks[1]!.hash);
    const started = performance.now();
    let bytes = 0;
    for (let i = 0; i < 12; i++) bytes += (await c.chunk(manifest, i)).length;
    const seconds = (performance.now() - started) / 1000;
    // The bucket lets at most its burst (≤ 256 KiB) through ahead of the rate.
    expect(seconds).toBeGreaterThanOrEqual(((bytes - 256 * 1024) / rate) * 0.95);
    c.close();
  });
});
