/**
 * The web remote served by the leader: one page (src/web/assets, plain HTML/CSS/JS) and the JSON
 * API of api.ts. Every command goes through `source.handle`, the control socket's handler, so
 * the page, the terminal UI and `syncplay ctl` drive the party one way.
 *
 * Access: every page and API call needs the token (token.ts). The link the leader shows carries
 * it once (`/?token=…`); the server answers with an HttpOnly, SameSite=Strict cookie and a
 * redirect to `/`, so the token leaves the address bar. Scripts and integrations may send
 * `Authorization: Bearer <token>` instead. Requests authenticated by the cookie must come from
 * this origin (the Origin header is checked on every POST), there is no CORS, and a POST must be
 * application/json: another site can neither read nor forge a call.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlRequest } from '../leader/control-server.js';
import type { LeaderStatus } from '../leader/leader.js';
import type { Logger } from '../log/logger.js';
import { API_BASE, API_VERSION, CONTROL_METHODS, READ_METHODS, RPC_ERRORS, rpcRequestSchema, toControlRequest, tracksParamsSchema, type WebState } from './api.js';
import { WEB_LIMITS } from './limits.js';
import { RateLimiter } from './rate-limit.js';
import { tokenMatches } from './token.js';
import { changeKey, searchTracks, webState } from './view.js';

/** What the web remote drives: the leader's status and the control socket's handler. */
export interface WebSource {
  status(): LeaderStatus;
  handle(request: ControlRequest): unknown;
}

export interface WebServerOptions {
  source: WebSource;
  host: string;
  /** 0 picks a free port */
  port: number;
  token: string;
  log: Logger;
  /** folder of index.html, app.js, style.css (default: src/web/assets of this installation) */
  assetsDir?: string;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/** The assets shipped next to this file's source: src/web/assets (also from dist/src/web/). */
export function defaultAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes('/dist/src/web') ? join(here, '..', '..', '..', 'src', 'web', 'assets') : join(here, 'assets');
}

export class WebServer {
  private server: Server | null = null;
  private readonly assets = new Map<string, Buffer>();
  private readonly limiter = new RateLimiter(WEB_LIMITS.rateBurst, WEB_LIMITS.ratePerSec, WEB_LIMITS.rateClients);
  private readonly streams = new Set<ServerResponse>();
  private tick: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private lastKey = '';
  private lastSentAt = 0;
  /** a large party: its state without the member rows, and when the rows were last compared */
  private lastPartyKey = '';
  private lastRowsAt = 0;
  port = 0;

  constructor(private readonly o: WebServerOptions) {
    const dir = o.assetsDir ?? defaultAssetsDir();
    for (const { file } of Object.values(ASSETS)) {
      try {
        this.assets.set(file, readFileSync(join(dir, file)));
      } catch (e) {
        throw new Error(`the web remote's files are missing (${join(dir, file)}: ${(e as Error).message}); reinstall, or start with --no-web`);
      }
    }
  }

  /** Bytes of the page: HTML + JS + CSS, uncompressed. */
  get pageBytes(): number {
    let n = 0;
    for (const b of this.assets.values()) n += b.length;
    return n;
  }

  private get cookieName(): string {
    // Cookies are shared by every port of a host: one name per port keeps two leaders apart.
    return `syncplay_web_${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.serve(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE') reject(new Error(`web remote port ${this.o.port} on ${this.o.host} is in use: pick another with --web PORT, or --no-web`));
        else reject(e);
      });
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    server.on('error', (e) => this.o.log.error(`web server: ${e.message}`));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.o.port;
    this.tick = setInterval(() => this.publish(false), WEB_LIMITS.eventTickMs);
    this.keepAlive = setInterval(() => {
      for (const res of this.streams) res.write(': keep-alive\n\n');
    }, WEB_LIMITS.keepAliveMs);
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    if (this.keepAlive) clearInterval(this.keepAlive);
    for (const res of this.streams) res.end();
    this.streams.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The link to open on a phone (token included), on an address the LAN can reach. */
  url(): string {
    return `${this.baseUrl()}/?token=${encodeURIComponent(this.o.token)}`;
  }

  baseUrl(): string {
    return `http://${formatHost(reachableHost(this.o.host))}:${this.port}`;
  }

  /**
   * Sends a snapshot to every open stream if anything changed (or `force`, or it is time). The
   * party's own state (timeline, track, schedule, how many members, how many connected) is compared
   * every tick, so a command shows at once; a large party's member rows only every memberRowsMs.
   */
  private publish(force: boolean): void {
    if (this.streams.size === 0) return;
    const status = this.o.source.status();
    const now = performance.now();
    if (!force && status.members.length > WEB_LIMITS.smallPartyMembers) {
      let connected = 0;
      for (const m of status.members) if (m.connected) connected++;
      const party = JSON.stringify([status.timeline, status.playhead.state, status.playhead.trackIndex, status.repeat, status.schedule, status.tracks.length, status.members.length, connected]);
      if (party === this.lastPartyKey && now - this.lastRowsAt < WEB_LIMITS.memberRowsMs) return;
      this.lastPartyKey = party;
      this.lastRowsAt = now;
    }
    const state = webState(status);
    const key = changeKey(state);
    if (!force && key === this.lastKey && now - this.lastSentAt < WEB_LIMITS.eventRefreshMs) return;
    this.lastKey = key;
    this.lastSentAt = now;
    const frame = `event: state\ndata: ${JSON.stringify({ type: 'state', state })}\n\n`;
    for (const res of this.streams) res.write(frame);
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!this.limiter.take(req.socket.remoteAddress ?? '?')) {
      res.setHeader('Retry-After', '1');
      return this.text(res, 429, 'too many requests: slow down');
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return this.text(res, 400, 'bad request');
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (path === '/' && url.searchParams.has('token')) {
      // The link: trade the token in the address for a cookie, and drop it from the address bar.
      if (!tokenMatches(this.o.token, url.searchParams.get('token'))) return this.refuse(res);
      res.setHeader('Set-Cookie', `${this.cookieName}=${this.o.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${WEB_LIMITS.cookieMaxAgeSec}`);
      res.setHeader('Location', '/');
      res.writeHead(303).end();
      return;
    }
    if (path === '/app.js' || path === '/style.css') {
      // The code of the page is not a secret: it loads before the token is checked, and shows
      // how to get in when it is not there.
      if (method !== 'GET' && method !== 'HEAD') return this.text(res, 405, 'method not allowed');
      return this.asset(res, path, method);
    }
    if (path === '/favicon.ico') return void res.writeHead(204).end();

    const auth = this.authenticate(req);
    if (auth === null) return this.refuse(res, path.startsWith('/api/'));
    if (path === '/') {
      if (method !== 'GET' && method !== 'HEAD') return this.text(res, 405, 'method not allowed');
      return this.asset(res, path, method);
    }
    if (path === API_BASE && method === 'GET') {
      return this.json(res, 200, { api: 'syncplay', version: API_VERSION, methods: [...CONTROL_METHODS, ...READ_METHODS], events: `${API_BASE}/events` });
    }
    if (path === `${API_BASE}/events` && method === 'GET') return this.openStream(req, res);
    if (path === `${API_BASE}/rpc`) {
      if (method !== 'POST') return this.text(res, 405, 'method not allowed: POST a JSON-RPC 2.0 request');
      if (auth === 'cookie' && !this.sameOrigin(req)) return this.text(res, 403, 'cross-origin request refused');
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return this.text(res, 415, 'send Content-Type: application/json');
      return void this.readBody(req, res).then((body) => body !== null && this.rpc(body, res));
    }
    this.text(res, 404, 'not found');
  }

  /** 'bearer' or 'cookie' when the request carries the token, else null. */
  private authenticate(req: IncomingMessage): 'bearer' | 'cookie' | null {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ') && tokenMatches(this.o.token, header.slice(7).trim())) return 'bearer';
    const cookie = parseCookies(req.headers.cookie ?? '')[this.cookieName];
    return tokenMatches(this.o.token, cookie) ? 'cookie' : null;
  }

  /** The Origin of a browser's POST must be this server as the browser addressed it. */
  private sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    const host = req.headers.host;
    return typeof origin === 'string' && typeof host === 'string' && origin === `http://${host}`;
  }

  private refuse(res: ServerResponse, api = false): void {
    if (api) return this.json(res, 401, { error: 'a token is required: open the link the leader shows, or send Authorization: Bearer <token>' });
    this.text(res, 401, 'This is the remote of a syncplay party. Open the link (or scan the QR code) that the leader shows; it carries the key.');
  }

  private asset(res: ServerResponse, path: string, method: string): void {
    const spec = ASSETS[path]!;
    const body = this.assets.get(spec.file)!;
    res.writeHead(200, { 'Content-Type': spec.type, 'Content-Length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
  }

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= WEB_LIMITS.maxEventStreams) return this.text(res, 503, 'too many open remotes');
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    this.streams.add(res);
    req.socket.setNoDelay(true);
    const close = (): void => {
      this.streams.delete(res);
    };
    req.on('close', close);
    res.on('error', close);
    this.publish(true);
  }

  private readBody(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
    return new Promise((resolve) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > WEB_LIMITS.maxBodyBytes) {
        this.text(res, 413, `request body over ${WEB_LIMITS.maxBodyBytes} bytes`);
        req.destroy();
        return resolve(null);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > WEB_LIMITS.maxBodyBytes) {
          this.text(res, 413, `request body over ${WEB_LIMITS.maxBodyBytes} bytes`);
          req.destroy();
          resolve(null);
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(size > WEB_LIMITS.maxBodyBytes ? null : Buffer.concat(chunks).toString('utf8')));
      req.on('error', () => resolve(null));
    });
  }

  private rpc(body: string, res: ServerResponse): void {
    const error = (id: unknown, code: number, message: string): void => this.json(res, 200, { jsonrpc: '2.0', id: id ?? null, error: { code, message } });
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      return error(null, RPC_ERRORS.parse, 'the body is not JSON');
    }
    const parsed = rpcRequestSchema.safeParse(raw);
    if (!parsed.success) return error((raw as { id?: unknown })?.id, RPC_ERRORS.invalidRequest, 'not a JSON-RPC 2.0 request ({"jsonrpc":"2.0","id":1,"method":"next"})');
    const { id, method, params } = parsed.data;
    const ok = (result: unknown): void => this.json(res, 200, { jsonrpc: '2.0', id: id ?? null, result });

    if (method === 'state') return ok(webState(this.o.source.status()));
    if (method === 'tracks') {
      const p = tracksParamsSchema.safeParse(params ?? {});
      if (!p.success) return error(id, RPC_ERRORS.invalidParams, `invalid params for tracks: ${p.error.issues[0]?.message ?? 'invalid'}`);
      return ok(searchTracks(this.o.source.status().tracks, p.data));
    }
    const request = toControlRequest(method, params);
    if (!request.ok) return error(id, (CONTROL_METHODS as readonly string[]).includes(method) ? RPC_ERRORS.invalidParams : RPC_ERRORS.methodNotFound, request.error);
    const reply = withoutJoinCode(this.o.source.handle(request.request)) as { ok?: boolean; error?: unknown };
    if (reply?.ok === false) return error(id, RPC_ERRORS.refused, String(reply.error ?? 'refused'));
    ok(reply);
    // The change reaches every open page now rather than at the next tick.
    setImmediate(() => this.publish(false));
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private text(res: ServerResponse, status: number, text: string): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
}

/** A status reply without the party's join code: a remote controls the music, it does not admit devices. */
function withoutJoinCode(reply: unknown): unknown {
  const r = reply as { status?: { party?: { pairing?: unknown } } } | null;
  if (!r?.status?.party || !('pairing' in r.status.party)) return reply;
  const { pairing: _hidden, ...party } = r.status.party;
  return { ...r, status: { ...r.status, party } };
}

export function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';').slice(0, 50)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** The address a phone can use: the listening one, or this machine's first LAN IPv4 when it listens on all. */
export function reachableHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export type { WebState };
