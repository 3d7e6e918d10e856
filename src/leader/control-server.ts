/**
 * The leader's local control socket: `syncplay ctl` (and later the terminal UI) send one JSON
 * request per line, `{"cmd":"seek","seconds":30}`, and get one JSON reply per line,
 * `{"ok":true,...}` or `{"ok":false,"error":"..."}`. The socket is 0600 inside a 0700 folder:
 * only this user can drive the speakers from this machine.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { LineFramer, parseLine } from '../protocol/index.js';
import type { Command } from './timeline-commands.js';
import type { Leader } from './leader.js';

export const controlRequestSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('play'), track: z.number().int().positive().optional() }),
  z.object({ cmd: z.literal('pause') }),
  z.object({ cmd: z.literal('resume') }),
  z.object({ cmd: z.literal('stop') }),
  z.object({ cmd: z.literal('next') }),
  z.object({ cmd: z.literal('prev') }),
  z.object({ cmd: z.literal('seek'), seconds: z.number().finite(), relative: z.boolean().optional() }),
  /** the status; the full track list only with `tracks` (100,000 tracks are ~20 MB of JSON) */
  z.object({ cmd: z.literal('status'), tracks: z.boolean().optional() }),
  z.object({ cmd: z.literal('repeat'), mode: z.enum(['off', 'all', 'one']) }),
  z.object({ cmd: z.literal('volume'), member: z.string().min(1), volume: z.number().min(0).max(100).optional(), delta: z.number().min(-100).max(100).optional() }),
  z.object({ cmd: z.literal('mute'), member: z.string().min(1), muted: z.boolean().optional() }),
  z.object({ cmd: z.literal('pair'), new: z.boolean().optional() }),
  z.object({ cmd: z.literal('forget'), member: z.string().min(1).max(64) }),
  z.object({ cmd: z.literal('offset'), member: z.string().min(1), ms: z.number().min(-10_000).max(10_000).nullable(), relative: z.boolean().optional() }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

type TimelineRequest = Exclude<ControlRequest, { cmd: 'volume' | 'mute' | 'offset' | 'pair' | 'forget' }>;

export function toCommand(req: TimelineRequest): Command | null {
  switch (req.cmd) {
    case 'play':
      return req.track === undefined ? { kind: 'play' } : { kind: 'play', trackIndex: req.track - 1 };
    case 'seek':
      return { kind: 'seek', seconds: req.seconds, relative: req.relative ?? false };
    case 'repeat':
      return { kind: 'repeat', mode: req.mode };
    case 'status':
      return null;
    default:
      return { kind: req.cmd };
  }
}

async function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class ControlServer {
  private server: Server | null = null;

  constructor(private readonly leader: Leader, readonly path: string, private readonly log: Logger) {}

  async start(): Promise<void> {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) {
        throw new Error(`${this.path} exists and is not a socket: pick another --socket PATH`);
      }
      if (await isLive(this.path)) {
        throw new Error(`another leader is already running on this machine (control socket ${this.path}); stop it, or start this one with --socket PATH`);
      }
      unlinkSync(this.path);
    }
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    // The socket is born 0600 (umask), not made private after the fact.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(this.path, 0o600);
    this.log.info(`control socket ${this.path} (drive with: syncplay ctl play|pause|resume|stop|next|prev|seek S|status|pair)`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  private serve(socket: Socket): void {
    const reply = (obj: unknown): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(obj) + '\n');
    };
    const framer = new LineFramer(
      64 * 1024,
      (line) => {
        const parsed = parseLine(controlRequestSchema, line, 'cmd', 'command');
        if (!parsed.ok) return reply({ ok: false, error: parsed.error });
        reply(this.handle(parsed.message));
      },
      () => reply({ ok: false, error: 'request too long' }),
    );
    socket.on('data', (d: Buffer) => framer.push(d));
    socket.on('error', () => {});
  }

  handle(req: ControlRequest): unknown {
    if (req.cmd === 'volume' || req.cmd === 'mute' || req.cmd === 'offset') return this.handleSettings(req);
    if (req.cmd === 'pair') return this.handlePair(req.new === true);
    if (req.cmd === 'forget') return this.leader.forget(req.member);
    const command = toCommand(req);
    if (command === null) {
      const status = this.leader.status();
      if (req.cmd === 'status' && req.tracks) return { ok: true, status };
      const { tracks: _all, ...summary } = status;
      return { ok: true, status: summary };
    }
    const result = this.leader.command(command);
    if (!result.ok) return { ok: false, error: result.error };
    return { ok: true, timeline: result.timeline, description: this.leader.describeTimeline(result.timeline) };
  }

  /** The join code (a fresh one with `fresh`) and the paired members. */
  private handlePair(fresh: boolean): unknown {
    if (fresh) this.leader.access.newCode();
    const pairing = this.leader.access.status();
    if (!pairing) return { ok: false, error: 'this party is open (--open): members join without pairing' };
    const paired = pairing.paired.length ? pairing.paired.map((p) => p.name).join(', ') : 'none yet';
    const description = `join code ${pairing.code} (valid ${Math.ceil(pairing.expiresInSec / 60)} min${fresh ? '; the previous code no longer works' : ''})\non a new member:  syncplay member --join ${pairing.code} --music-dir DIR\npaired members: ${paired}`;
    return { ok: true, pairing, description };
  }

  private handleSettings(req: Extract<ControlRequest, { cmd: 'volume' | 'mute' | 'offset' }>): unknown {
    const clampVolume = (v: number): number => Math.max(0, Math.min(100, Math.round(v)));
    const result = this.leader.setMemberSettings(req.member, (current) => {
      switch (req.cmd) {
        case 'volume':
          return { volume: clampVolume(req.volume ?? current.volume + (req.delta ?? 0)) };
        case 'mute':
          return { muted: req.muted ?? !current.muted };
        case 'offset':
          return { latencyOffsetMs: req.ms === null ? null : req.relative ? (current.latencyOffsetMs ?? 0) + req.ms : req.ms };
      }
    });
    if (!result.ok) return result;
    const description = Object.entries(result.settings)
      .map(([name, s]) => `${name}: volume ${s.volume}${s.muted ? ' muted' : ''}, latency offset ${s.latencyOffsetMs === null ? "the member's own" : `${s.latencyOffsetMs} ms`}`)
      .join('\n');
    return { ok: true, settings: result.settings, description };
  }
}
