/**
 * The party's state, kept by the leader in its state dir so a restarted leader carries on where
 * it was: the timeline (track, position, instant, repeat), the playlist's identity and the
 * shuffle seed that gave its order. It is written atomically (temporary file, then rename) on
 * every change, so a crash at any moment leaves either the old state or the new one.
 *
 * When it resumes: the saved timeline is kept as it is (same sequence number, same instant) when
 * the playlist is the same and the shared clock is the same clock: UTC (--ntp), or this machine's
 * monotonic clock in the same boot (the kernel's boot id). Members then see the very timeline
 * they are already playing: no gap, no seek. After a reboot the party resumes paused where it
 * was. A leader stopped on purpose (SIGINT/SIGTERM) resumes only when started again within
 * RESUME_AFTER_STOP_MS (a service restart); later, the party starts stopped.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { JsonStateFile } from '../state/json-state-file.js';
import { sharedMsSchema, wallMsSchema } from '../clock/time-schema.js';
import type { SharedMs, WallMs } from '../clock/time.js';
export { seededShuffle } from '../playlist/shuffle.js';
import { playheadAt, timelineSchema, type Timeline, type Track } from '../protocol/index.js';

/** A leader stopped on purpose and started again within this resumes the party (a service restart). */
export const RESUME_AFTER_STOP_MS = 60_000;

const stateSchema = z.object({
  version: z.literal(1),
  /** sha-256 of the playlist in play order (paths and content hashes) */
  playlistDigest: z.string().max(128),
  /** the seed of the shuffled order, or null when not shuffled */
  shuffleSeed: z.string().max(128).nullable(),
  clockKind: z.enum(['monotonic', 'utc']),
  /** the kernel's boot id when saved: a monotonic shared clock is only the same clock within one boot */
  bootId: z.string().max(128).nullable(),
  timeline: timelineSchema,
  /** wall-clock ms when saved, and whether the leader was stopped on purpose */
  savedAtWallMs: wallMsSchema,
  savedAtSharedMs: sharedMsSchema,
  stopped: z.boolean(),
});
export type PartyState = z.infer<typeof stateSchema>;

export { playlistDigest } from '../playlist/playlist-digest.js';

export function newShuffleSeed(): string {
  return randomBytes(16).toString('hex');
}

export function currentBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

export type Resume = { kind: 'as-is'; timeline: Timeline } | { kind: 'paused'; timeline: Timeline } | { kind: 'none'; reason: string };

/**
 * What a leader starting now makes of a saved state: the timeline as it was, a paused one at the
 * position it had reached, or nothing (and why).
 */
export function resumeFrom(saved: PartyState | null, now: { digest: string; clockKind: 'monotonic' | 'utc'; bootId: string | null; wallMs: WallMs; sharedMs: SharedMs }, tracks: readonly Track[]): Resume {
  if (!saved) return { kind: 'none', reason: 'no saved party' };
  if (saved.playlistDigest !== now.digest) return { kind: 'none', reason: 'the playlist changed since the party was saved' };
  if (saved.stopped && now.wallMs - saved.savedAtWallMs > RESUME_AFTER_STOP_MS) return { kind: 'none', reason: 'the leader was stopped on purpose more than a minute ago' };
  const t = saved.timeline;
  const sameClock = saved.clockKind === now.clockKind && (now.clockKind === 'utc' || (saved.bootId !== null && saved.bootId === now.bootId));
  if (sameClock) return { kind: 'as-is', timeline: t };
  // Another clock: the instant means nothing here. Resume paused where the party had got to when saved.
  const here = playheadAt(t, tracks, saved.savedAtSharedMs);
  if (here.state === 'ended') return { kind: 'none', reason: 'the playlist had ended' };
  return { kind: 'paused', timeline: { seq: t.seq + 1, state: t.state === 'stopped' ? 'stopped' : 'paused', trackIndex: here.trackIndex, positionSec: here.positionSec, at: now.sharedMs, repeat: t.repeat, playlistVersion: t.playlistVersion } };
}

export class PartyStateStore {
  private lastWritten = '';
  private readonly state: JsonStateFile<PartyState> | null;

  constructor(readonly file: string | null, log: Logger) {
    this.state = file ? new JsonStateFile(file, stateSchema, { what: 'party state', without: 'starting afresh' }, log) : null;
  }

  load(): PartyState | null {
    return this.state?.load() ?? null;
  }

  /** Writes the state atomically; an unchanged state is not written again. */
  save(state: PartyState): void {
    if (!this.state) return;
    const { savedAtWallMs: _w, savedAtSharedMs: _s, ...identity } = state;
    const key = JSON.stringify(identity);
    if (key === this.lastWritten) return;
    if (this.state.save(state)) this.lastWritten = key;
  }
}
