/**
 * What the web remote sees of the leader: a snapshot without the playlist (which can be 100k
 * tracks; the page asks for windows of it with `tracks`), and searches of the playlist.
 */
import type { LeaderStatus } from '../leader/leader.js';
import type { Track } from '../protocol/index.js';
import { API_VERSION, MAX_TRACKS_PER_CALL, type TracksParams, type TracksResult, type WebState } from './api.js';

export function webState(s: LeaderStatus): WebState {
  return {
    api: API_VERSION,
    now: s.now,
    timeline: s.timeline,
    playhead: s.playhead,
    track: s.track ? { title: s.track.title, durationSec: s.track.durationSec, ...(s.track.artist !== undefined ? { artist: s.track.artist } : {}) } : null,
    trackCount: s.tracks.length,
    repeat: s.repeat,
    members: s.members.map((m) => ({
      name: m.name,
      address: m.address,
      connected: m.connected,
      clockOffsetMs: m.clockOffsetMs,
      rttMs: m.rttMs,
      errorMs: m.errorMs,
      speed: m.speed,
      playerState: m.playerState,
      fileStatus: m.fileStatus,
      fileProblems: m.fileProblems.slice(0, 5),
      latencyOffsetMs: m.latencyOffsetMs,
      volume: m.volume,
      muted: m.muted,
      trackIndex: m.trackIndex,
    })),
    schedule: s.schedule,
  };
}

/**
 * The part of a snapshot that, when it differs from the last one sent, makes a new event: the
 * clock and the playhead's position move all the time and are left out (the page runs the
 * position forward itself).
 */
export function changeKey(state: WebState): string {
  return JSON.stringify({ ...state, now: 0, playhead: { ...state.playhead, positionSec: 0 } });
}

/** Lower-cased "title, artist, path" of each track, made once per playlist (the array is replaced when it changes). */
const haystacks = new WeakMap<readonly Track[], string[]>();

function haystackOf(tracks: readonly Track[]): string[] {
  let h = haystacks.get(tracks);
  if (!h) {
    h = tracks.map((t) => `${t.title}\n${t.artist ?? ''}\n${t.path}`.toLowerCase());
    haystacks.set(tracks, h);
  }
  return h;
}

/**
 * A window of the playlist: every track, or those whose title, artist or file name contain each
 * word of `query` (case-insensitive). One linear pass of substring tests over strings made once.
 */
export function searchTracks(tracks: readonly Track[], p: TracksParams): TracksResult {
  const offset = p.offset ?? 0;
  const limit = Math.min(p.limit ?? 50, MAX_TRACKS_PER_CALL);
  const words = (p.query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const hay = words.length > 0 ? haystackOf(tracks) : null;
  const items: TracksResult['items'] = [];
  let matches = 0;
  for (let i = 0; i < tracks.length; i++) {
    const t = tracks[i]!;
    if (hay) {
      const h = hay[i]!;
      if (!words.every((w) => h.includes(w))) continue;
    }
    if (matches >= offset && items.length < limit) {
      items.push({ number: i + 1, title: t.title, durationSec: t.durationSec, ...(t.artist !== undefined ? { artist: t.artist } : {}) });
    }
    matches++;
  }
  return { total: tracks.length, matches, offset, items };
}
