/**
 * The web remote's JSON API, version 1: the schemas of what comes in and what goes out.
 *
 *   POST /api/v1/rpc     JSON-RPC 2.0. The control methods are the `syncplay ctl` commands with
 *                        the same parameters ({"method":"seek","params":{"seconds":30}}): the
 *                        request becomes a ControlRequest, checked by the control socket's own
 *                        schema, and goes through the same handler (ControlServer.handle).
 *                        The read methods: `state` (the snapshot the event stream sends) and
 *                        `tracks` (a window of the playlist, optionally searched).
 *   GET  /api/v1/events  Server-sent events: `state` (a snapshot, at once and on every change).
 *   GET  /api/v1         { api, version, methods }.
 */
import { z } from 'zod';
import { controlRequestSchema, type ControlRequest } from '../leader/control-server.js';
import { repeatModeSchema, timelineSchema, trackSchema } from '../protocol/messages.js';

export const API_VERSION = 1;
export const API_BASE = `/api/v${API_VERSION}`;

/** Longest search query, and most tracks one `tracks` call returns. */
export const MAX_QUERY_CHARS = 200;
export const MAX_TRACKS_PER_CALL = 200;

/**
 * The ctl commands the remote may send: playback and each member's volume, mute and latency
 * offset. Party administration (`pair`, `forget`) stays with the leader's own machine (the control
 * socket is this user's only).
 */
export const CONTROL_METHODS = ['play', 'pause', 'resume', 'stop', 'next', 'prev', 'seek', 'repeat', 'volume', 'mute', 'offset', 'status'] as const satisfies readonly ControlRequest['cmd'][];
export const READ_METHODS = ['state', 'tracks'] as const;

const jsonRpcId = z.union([z.string().max(100), z.number().finite(), z.null()]);

/** The envelope; `params` is checked per method below. */
export const rpcRequestSchema = z.object({
  jsonrpc: z.literal('2.0'),
  id: jsonRpcId.optional(),
  method: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type RpcRequest = z.infer<typeof rpcRequestSchema>;

export const tracksParamsSchema = z.object({
  query: z.string().max(MAX_QUERY_CHARS).optional(),
  offset: z.number().int().nonnegative().optional(),
  limit: z.number().int().min(1).max(MAX_TRACKS_PER_CALL).optional(),
});
export type TracksParams = z.infer<typeof tracksParamsSchema>;

export const trackRowSchema = z.object({
  /** 1-based, as `syncplay ctl play N` takes it */
  number: z.number().int().positive(),
  title: z.string(),
  artist: z.string().optional(),
  durationSec: z.number().finite().nonnegative(),
});
export const tracksResultSchema = z.object({
  total: z.number().int().nonnegative(),
  /** how many tracks match the query (all of them without one) */
  matches: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  items: z.array(trackRowSchema),
});
export type TracksResult = z.infer<typeof tracksResultSchema>;

/** A method call turned into a control request, or why not. */
export function toControlRequest(method: string, params: Record<string, unknown> | undefined): { ok: true; request: ControlRequest } | { ok: false; error: string } {
  if (!(CONTROL_METHODS as readonly string[]).includes(method)) return { ok: false, error: `no method "${method}"` };
  const parsed = controlRequestSchema.safeParse({ ...(params ?? {}), cmd: method });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `invalid params for ${method}: ${issue ? `${issue.path.join('.') || 'params'}: ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, request: parsed.data };
}

export const memberRowSchema = z.object({
  name: z.string(),
  address: z.string(),
  connected: z.boolean(),
  clockOffsetMs: z.number().nullable(),
  rttMs: z.number().nullable(),
  errorMs: z.number().nullable(),
  speed: z.number().nullable(),
  playerState: z.string(),
  fileStatus: z.string(),
  fileProblems: z.array(z.object({ index: z.number().int(), status: z.string() })),
  latencyOffsetMs: z.number().nullable(),
  volume: z.number(),
  muted: z.boolean(),
  trackIndex: z.number().int().nullable(),
});

/** The `state` event and the `state` method's result. */
export const stateSchema = z.object({
  api: z.literal(API_VERSION),
  /** the leader's shared clock when this snapshot was taken, ms */
  now: z.number(),
  timeline: timelineSchema,
  playhead: z.object({ state: z.enum(['playing', 'paused', 'stopped', 'pending', 'ended']), trackIndex: z.number().int(), positionSec: z.number() }),
  track: trackSchema.omit({ hash: true, path: true }).nullable(),
  trackCount: z.number().int().nonnegative(),
  repeat: repeatModeSchema,
  members: z.array(memberRowSchema),
  schedule: z.object({ nextStart: z.string().nullable(), nextStop: z.string().nullable() }),
});
export type WebState = z.infer<typeof stateSchema>;

export const eventSchema = z.object({ type: z.literal('state'), state: stateSchema });
export type WebEvent = z.infer<typeof eventSchema>;

/** JSON-RPC 2.0 error codes used here (the -326xx are the standard ones). */
export const RPC_ERRORS = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  /** the leader refused the command (its message says why: "already playing", …) */
  refused: 1,
} as const;
