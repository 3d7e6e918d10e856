/**
 * The seam between the sync logic and an audio player. PlayerSync speaks only this; mpv is one
 * implementation (src/member/mpv/mpv-player.ts), the unit tests drive PlayerSync with a fake.
 *
 * The player holds a short playlist: the track playing (entry 0) and the one queued after it,
 * which it moves on to by itself without a gap.
 */

import type { LocalMs } from '../clock/time.js';

/** A reading of the playback position, stamped on the local monotonic clock. */
export interface TimedPosition {
  /** position of the sample leaving the audio output now, s into the file */
  positionSec: number;
  /** local monotonic ms the reading holds for (where in its request's round trip the player read it) */
  localMs: LocalMs;
  /** the request's round trip, ms: the timestamp is uncertain by up to it */
  rttMs: number;
}

export interface Player {
  /**
   * Replaces the playlist with `path` and resolves once the player has (re)started there, at
   * `startSec` into the file (exactly) or at its start when omitted. Pause state is kept.
   */
  load(path: string, startSec?: number): Promise<void>;
  /**
   * Replaces the playlist with one entry: `silenceSec` of silence (from the WAV of silence at
   * `silencePath`, at least that long) and then `path` from its start, joined without a gap, so
   * that the file's first sample follows the silence's last. Resolves once the player has
   * (re)started at the entry's start; pause state is kept. Positions read while the entry plays
   * are in its terms: the file's position plus `silenceSec`.
   */
  loadAfterSilence(path: string, silencePath: string, silenceSec: number): Promise<void>;
  /** Exact seek within the loaded file; resolves once playback has restarted there. */
  seek(positionSec: number): Promise<void>;
  /** Queues `path` after the playlist's last entry. */
  append(path: string): Promise<void>;
  /** Removes playlist entry `index` (0 = the one playing). */
  remove(index: number): Promise<void>;
  /** Index of the entry playing now, −1 when none. */
  playlistPosition(): Promise<number>;
  /** Stops playback and empties the playlist. */
  stop(): Promise<void>;
  setPaused(paused: boolean): Promise<void>;
  setSpeed(speed: number): Promise<void>;
  /** Volume 0–100 and mute. */
  setVolume(volume: number, muted: boolean): Promise<void>;
  /** The position leaving the output now; rejects when there is none (idle, between files). */
  readPosition(): Promise<TimedPosition>;
  /**
   * Resolves when the playing file ends (rejects after `timeoutMs`). Listening starts at the
   * call, so call it before the action that leads to the end.
   */
  whenEnded(timeoutMs: number): Promise<void>;
}

/**
 * Where the sync gets its player: a supervised player restarts after a crash, and a restarted
 * player starts idle (nothing loaded, paused state and speed at their defaults).
 */
export interface PlayerHost {
  /** Called with a fresh player after the first start and after every restart. */
  onReady(listener: (player: Player) => void): void;
  /** Called when the running player dies; its Player object is dead from then on. */
  onDown(listener: () => void): void;
}
