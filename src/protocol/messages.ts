/**
 * The wire protocol shared by leader and member: newline-delimited JSON over TCP.
 * Every message is validated on receipt against these schemas; anything else is answered
 * with an `error` message and otherwise ignored.
 *
 * Handshake:
 *   leader → member  server-hello { protocol, nonce, authRequired }
 *   member → leader  hello        { protocol, name, clientNonce, proof?, deviceId?, resume? }   proof = HMAC(secret, "member|" + nonce + "|" + name)
 *                    deviceId: the member's stable id (a returning device replaces its stale session);
 *                    resume: the timeline it plays, which a leader that lost its saved party may adopt
 *   leader → member  welcome      { memberId, leaderProof?, playlist: { version, count, digest }, timeline, files? { port } }
 *                    leaderProof = HMAC(secret, "leader|" + clientNonce)
 *                    or error { code: "auth-failed" | "protocol-mismatch" | ... } and the connection closes.
 *   The secret is the party secret, or the member's own key from a pairing (looked up by name).
 *   With a secret, every line after the hello, both ways, starting with the welcome, is
 *   "<tag> <json>": an HMAC-SHA256 tag (128 bits) over an implicit sequence number and the line,
 *   under keys derived from the secret and both nonces (line-auth.ts explains the choice over
 *   TLS-PSK). A line with a wrong tag closes the connection.
 * Pairing with the join code (SPAKE2; instead of hello, once per member; the connection then closes):
 *   member → leader  pair-start { name, spake: X }
 *   leader → member  pair-challenge { spake: Y, confirm: cB }      (the member checks cB first)
 *   member → leader  pair-confirm { confirm: cA }
 *   leader → member  pair-welcome { iv, sealed, tag }   AES-GCM under the SPAKE2 key: the member's own key
 *                    or error { code: "pair-failed" | "pairing-unavailable" }
 *   leader → member  playlist-page { version, start, tracks }  … until the member has every track
 * After that:
 *   member → leader  time-req { id, t1 }            leader → member  time-res { id, t1, t2, t3, paceMs? }
 *                    paceMs (large parties only): exchange no more often than one chain per paceMs
 *   leader → member  timeline { timeline }          (a new command, effective at timeline.at)
 *   leader → member  heartbeat { leaderMs, timeline }  (about 1 Hz: repeats the current timeline)
 *   leader → member  playlist { playlist: { version, count, digest } }  (a new playlist: pages follow)
 *   leader → member  settings { volume, muted, latencyOffsetMs }  (remembered per member name)
 *   member → leader  status { ... }                 (about 1 Hz: sync error, speed, file status)
 * A calibrator (`syncplay calibrate`) joins with role "calibrator" and may ask:
 *   calibrator → leader  list-members { requestId }                → reply { requestId, ok, members }
 *   calibrator → leader  calibrate-play { requestId, member, at, signal } → reply; the leader sends
 *                        leader → member  play-signal { at, signal }   (the member plays it at `at`)
 *   calibrator → leader  set-offset { requestId, member, latencyOffsetMs } → reply
 *
 * The playlist travels in pages (see playlist-pages.ts): a 100,000-track playlist is ~20 MB of
 * JSON, far over the line limit, so the welcome and `playlist` messages carry only its identity
 * (version, track count, digest) and `playlist-page` lines carry the tracks, each line well under
 * the limit. The leader sends the page holding the current track and the next one first, then
 * the pages after them — once the member plays (or after a few seconds), paced, so that its time
 * replies never wait behind megabytes of playlist — so a member can play the current track before
 * the rest has arrived. A track is identified
 * by its index in a playlist version and its content hash; every timeline names the playlist
 * version it refers to, and a member never acts on a timeline for a version it does not hold.
 */
import { z } from 'zod';
import { isPrintable } from '../log/escape.js';
import { sharedMsSchema } from '../clock/time-schema.js';

export const PROTOCOL_VERSION = 2;
/** A line longer than this is refused without being parsed. */
export const MAX_LINE_BYTES = 256 * 1024;

const finite = z.number().finite();
/** No track is a week long: a position beyond this is refused. */
export const MAX_POSITION_SEC = 7 * 24 * 3600;
export const MAX_TRACKS = 100_000;
/** ms in a century */
const MAX_CLOCK_OFFSET_MS = 100 * 365.25 * 24 * 3600 * 1000;
const name = z.string().min(1).max(64).refine(isPrintable, 'a name may not hold control characters or escape sequences');

export const trackSchema = z.object({
  path: z.string().min(1).max(4096),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  durationSec: finite.nonnegative(),
  title: z.string().max(1024),
  artist: z.string().max(1024).optional(),
});

export const repeatModeSchema = z.enum(['off', 'all', 'one']);

/**
 * "From shared instant `at` (ms of the leader's shared clock) the playlist is at track
 * `trackIndex`, position `positionSec`, in `state`." A playing timeline advances at rate 1 and
 * auto-advances through the playlist as `repeat` says (see timeline.ts).
 */
export const timelineSchema = z.object({
  seq: z.number().int().nonnegative(),
  state: z.enum(['playing', 'paused', 'stopped']),
  trackIndex: z.number().int().nonnegative(),
  positionSec: z.number().min(0).max(MAX_POSITION_SEC),
  at: sharedMsSchema,
  repeat: repeatModeSchema,
  /** the playlist version `trackIndex` refers to (0: the empty playlist of a leader still scanning) */
  playlistVersion: z.number().int().nonnegative(),
});

/** Upper bound on a playlist's length: the leader refuses to publish more, members to accept more. */
export const MAX_PLAYLIST_TRACKS = 1_000_000;
/** Upper bound on the tracks of one `playlist-page` message (the byte budget usually ends a page first). */
export const MAX_PAGE_TRACKS = 1000;

/** What identifies a playlist: its version on this leader, its length and a digest of its tracks. */
export const playlistInfoSchema = z.object({
  version: z.number().int().nonnegative(),
  count: z.number().int().nonnegative().max(MAX_PLAYLIST_TRACKS),
  /** sha256 over every track's path and content hash, in order (playlist-digest.ts): equal digests, equal playlists */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
});

export const fileStatusSchema = z.enum(['ok', 'missing', 'different', 'refused', 'checking', 'fetching', 'unknown']);

/** A member's fetch of the files it lacks: the track and bytes in progress, the rate, what is left. */
export const fetchProgressSchema = z.object({
  trackIndex: z.number().int().nonnegative().nullable(),
  doneBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative(),
  rateBps: z.number().nonnegative(),
  queued: z.number().int().nonnegative(),
  fetched: z.number().int().nonnegative(),
  error: z.string().max(512).nullable(),
});

/** The calibration test signal: an exponential sine sweep the member renders itself. */
export const sweepSpecSchema = z.object({
  kind: z.literal('sweep'),
  f0: z.number().min(10).max(24_000),
  f1: z.number().min(10).max(24_000),
  durationSec: z.number().min(0.05).max(10),
  sampleRate: z.number().int().min(8000).max(192_000),
  amplitude: z.number().min(0).max(1),
  fadeSec: z.number().min(0).max(1),
});

export const partyInfoSchema = z.object({ name, id: z.string().regex(/^[0-9a-f]{16}$/).optional() });

const serverHello = z.object({
  type: z.literal('server-hello'),
  protocol: z.number().int(),
  nonce: z.string().max(128),
  authRequired: z.boolean(),
  version: z.string().max(64),
  /** what the shared clock is: the leader's monotonic clock, or UTC through NTP (--ntp) */
  clock: z.enum(['monotonic', 'utc']),
  /** the party: its name, and its public id (derived one-way from the secret) when it has one */
  party: partyInfoSchema.optional(),
  /** true when a member may pair here with the join code (pair-start) */
  pairing: z.boolean().optional(),
});
const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
/** Pairing with the join code (SPAKE2, see party/spake2.ts), before any hello; the connection closes after it. */
const pairStart = z.object({ type: z.literal('pair-start'), protocol: z.number().int(), name, version: z.string().max(64), spake: hex32 });
const pairChallenge = z.object({ type: z.literal('pair-challenge'), spake: hex32, confirm: hex32 });
const pairConfirm = z.object({ type: z.literal('pair-confirm'), confirm: hex32 });
/** the member's own key and the party, sealed with AES-256-GCM under the SPAKE2 key */
const pairWelcome = z.object({ type: z.literal('pair-welcome'), iv: z.string().regex(/^[0-9a-f]{24}$/), sealed: z.string().regex(/^[0-9a-f]+$/).max(4096), tag: z.string().regex(/^[0-9a-f]{32}$/) });
const hello = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  name,
  clientNonce: z.string().max(128),
  proof: z.string().max(128).optional(),
  version: z.string().max(64),
  role: z.enum(['member', 'calibrator']).optional(),
  /** the device's stable id (its state dir): a member returning under its name is known by it */
  deviceId: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  /**
   * what the member is playing (after losing its leader): a leader restarted without its saved
   * party may adopt it. `sharedNowMs` is the member's estimate of the shared clock as it sent this.
   */
  resume: z.object({ timeline: timelineSchema, playlistDigest: z.string().max(128), sharedNowMs: finite }).optional(),
});
const welcome = z.object({
  type: z.literal('welcome'),
  memberId: z.string().max(64),
  leaderProof: z.string().max(128).optional(),
  playlist: playlistInfoSchema,
  timeline: timelineSchema,
  /** where the leader serves the playlist's files to members that lack them (file-transfer.ts) */
  files: z.object({ port: z.number().int().min(1).max(65_535) }).optional(),
});
export const timeReq = z.object({ type: z.literal('time-req'), id: z.number().int(), t1: finite });
/** paceMs: in a large party, the spacing the leader asks for between a member's chains (leader/exchange-pace.ts) */
export const timeRes = z.object({ type: z.literal('time-res'), id: z.number().int(), t1: finite, t2: finite, t3: finite, paceMs: z.number().int().min(0).max(60_000).optional() });
const timelineMsg = z.object({ type: z.literal('timeline'), timeline: timelineSchema });
const heartbeat = z.object({ type: z.literal('heartbeat'), leaderMs: finite, timeline: timelineSchema });
const playlistMsg = z.object({ type: z.literal('playlist'), playlist: playlistInfoSchema });
/** Tracks start … start + tracks.length − 1 of playlist `version`. */
const playlistPage = z.object({
  type: z.literal('playlist-page'),
  version: z.number().int().nonnegative(),
  start: z.number().int().nonnegative().max(MAX_PLAYLIST_TRACKS),
  tracks: z.array(trackSchema).min(1).max(MAX_PAGE_TRACKS),
});
/** Per-member settings kept by the leader; a null latency offset leaves the member's own --latency-offset. */
export const memberSettingsSchema = z.object({
  volume: z.number().min(0).max(100),
  muted: z.boolean(),
  latencyOffsetMs: z.number().min(-10_000).max(10_000).nullable(),
});
const settingsMsg = z.object({ type: z.literal('settings'), settings: memberSettingsSchema });
/** Status fields are range-checked here: a value outside what a working member can report is refused with the range. */
const status = z.object({
  type: z.literal('status'),
  /** two monotonic clocks differ by at most their uptimes: a century bounds it */
  clockOffsetMs: z.number().min(-MAX_CLOCK_OFFSET_MS).max(MAX_CLOCK_OFFSET_MS).nullable(),
  /** the leader adds the slowest round trip to every command's lead: more than 2 s is not a member in sync */
  rttMs: z.number().min(0).max(2000).nullable(),
  clockSkewPpm: z.number().min(-10_000).max(10_000).nullable(),
  /** audio position minus timeline position, ms; positive = ahead; null when not playing */
  errorMs: z.number().min(-MAX_POSITION_SEC * 1000).max(MAX_POSITION_SEC * 1000).nullable(),
  speed: z.number().min(0).max(4).nullable(),
  trackIndex: z.number().int().min(0).max(MAX_TRACKS).nullable(),
  playerState: z.enum(['idle', 'loading', 'armed', 'playing', 'paused', 'silent', 'down', 'calibrating']),
  fileStatus: fileStatusSchema,
  /** per-track problems, e.g. [{ index: 2, status: 'missing' }] */
  fileProblems: z.array(z.object({ index: z.number().int().min(0).max(MAX_TRACKS), status: fileStatusSchema })).max(MAX_TRACKS),
  latencyOffsetMs: z.number().min(-10_000).max(10_000),
  volume: z.number().min(0).max(100).nullable(),
  muted: z.boolean().nullable(),
  hardSeeks: z.number().int().nonnegative(),
  /** fetching files this member lacks from the leader (absent: not fetching) */
  fetch: fetchProgressSchema.optional(),
  /** the playlist version this member holds, how many of its tracks it has received and checked */
  playlistVersion: z.number().int().nonnegative().optional(),
  tracksReceived: z.number().int().nonnegative().optional(),
  filesChecked: z.number().int().nonnegative().optional(),
  filesTotal: z.number().int().nonnegative().optional(),
});
const error = z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(2048) });
const requestId = z.number().int().nonnegative();
const listMembers = z.object({ type: z.literal('list-members'), requestId });
const calibratePlay = z.object({ type: z.literal('calibrate-play'), requestId, member: name, at: finite, signal: sweepSpecSchema });
const setOffset = z.object({ type: z.literal('set-offset'), requestId, member: name, latencyOffsetMs: z.number().min(-10_000).max(10_000).nullable() });
const playSignal = z.object({ type: z.literal('play-signal'), at: finite, signal: sweepSpecSchema });
export const memberSummarySchema = z.object({ name, connected: z.boolean(), latencyOffsetMs: finite.nullable(), playerState: z.string().max(32) });
const reply = z.object({ type: z.literal('reply'), requestId, ok: z.boolean(), error: z.string().max(2048).optional(), members: z.array(memberSummarySchema).max(10_000).optional() });

export const leaderToMember = z.discriminatedUnion('type', [serverHello, pairChallenge, pairWelcome, welcome, timeRes, timelineMsg, heartbeat, playlistMsg, playlistPage, settingsMsg, playSignal, reply, error]);
export const memberToLeader = z.discriminatedUnion('type', [hello, pairStart, pairConfirm, timeReq, status, listMembers, calibratePlay, setOffset, error]);

export type Track = z.infer<typeof trackSchema>;
export type Timeline = z.infer<typeof timelineSchema>;
export type RepeatMode = z.infer<typeof repeatModeSchema>;
export type FileStatus = z.infer<typeof fileStatusSchema>;
export type LeaderMessage = z.infer<typeof leaderToMember>;
export type MemberMessage = z.infer<typeof memberToLeader>;
export type StatusMessage = z.infer<typeof status>;
export type FetchProgressMessage = z.infer<typeof fetchProgressSchema>;
export type HelloMessage = z.infer<typeof hello>;
export type PartyInfo = z.infer<typeof partyInfoSchema>;
export type MemberSettings = z.infer<typeof memberSettingsSchema>;
export type SweepSpecMessage = z.infer<typeof sweepSpecSchema>;
export type MemberSummary = z.infer<typeof memberSummarySchema>;
export type ReplyMessage = z.infer<typeof reply>;
export type PlaylistInfo = z.infer<typeof playlistInfoSchema>;
export type PlaylistPageMessage = z.infer<typeof playlistPage>;

/**
 * The time exchange's two messages, checked by hand (a member sends 8 requests a second, each
 * answered): the schema's parse allocated ~0.7 KB per message against ~0.1 KB for the JSON
 * itself, and on a leader at rest that garbage was most of what filled its heap. Each check
 * accepts exactly what its schema accepts, or returns null and the schema decides (and explains).
 */
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** The fields each check knows (a test holds them to the schemas' fields: a new field needs its check here). */
export const QUICK_FIELDS = { 'time-req': ['type', 'id', 't1'], 'time-res': ['type', 'id', 't1', 't2', 't3', 'paceMs'] } as const;
export function quickTimeRequest(raw: Record<string, unknown>): z.infer<typeof timeReq> | null {
  return raw.type === 'time-req' && isInt(raw.id) && isFinite(raw.t1) ? { type: 'time-req', id: raw.id, t1: raw.t1 } : null;
}
export function quickTimeResponse(raw: Record<string, unknown>): z.infer<typeof timeRes> | null {
  if (raw.type !== 'time-res' || !isInt(raw.id) || !isFinite(raw.t1) || !isFinite(raw.t2) || !isFinite(raw.t3)) return null;
  const pace = raw.paceMs;
  if (pace === undefined) return { type: 'time-res', id: raw.id, t1: raw.t1, t2: raw.t2, t3: raw.t3 };
  return isInt(pace) && pace >= 0 && pace <= 60_000 ? { type: 'time-res', id: raw.id, t1: raw.t1, t2: raw.t2, t3: raw.t3, paceMs: pace } : null;
}
const quickParsers = new Map<z.ZodType, (raw: Record<string, unknown>) => unknown>([
  [memberToLeader, quickTimeRequest],
  [leaderToMember, quickTimeResponse],
]);

export type ParseResult<T> = { ok: true; message: T } | { ok: false; code: string; error: string };

/**
 * Parses one line into a validated message, or says precisely what is wrong with it.
 * `kindKey` is the field that names the kind of message ("type" on the wire, "cmd" on the
 * control socket); `kindWord` is how errors call it.
 */
export function parseLine<T>(schema: z.ZodType<T>, line: string, kindKey = 'type', kindWord = 'message type'): ParseResult<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return { ok: false, code: 'malformed-json', error: `not valid JSON (${(e as Error).message})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, code: 'not-an-object', error: 'a message must be a JSON object' };
  }
  const kind = (raw as Record<string, unknown>)[kindKey];
  const quick = quickParsers.get(schema)?.(raw as Record<string, unknown>);
  if (quick) return { ok: true, message: quick as T };
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  if (issue && issue.path.length === 1 && issue.path[0] === kindKey) {
    return { ok: false, code: 'unknown-type', error: kind === undefined ? `missing "${kindKey}" field` : `unknown ${kindWord} ${JSON.stringify(kind)}` };
  }
  const where = issue ? issue.path.join('.') || '(message)' : '(message)';
  return {
    ok: false,
    code: 'invalid-message',
    error: `invalid ${JSON.stringify(kind)} ${kindWord === 'message type' ? 'message' : kindWord}: ${where}: ${issue?.message ?? 'invalid'}`,
  };
}
