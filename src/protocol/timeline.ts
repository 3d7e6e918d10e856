/**
 * What a timeline means at any shared instant.
 *
 * A playing timeline says "at instant `at` the playlist is at (trackIndex, positionSec)" and
 * advances at rate 1: at instant t the playlist has advanced by (t − at)/1000 s, crossing into
 * the following tracks as each one's duration runs out (continuous playback). With repeat 'off'
 * the playlist is over past the last track (state 'ended'); 'all' wraps to the first track;
 * 'one' plays the same track again. Paused and stopped timelines stand still.
 */
import { sharedMs, type SharedMs } from '../clock/time.js';
import type { RepeatMode, Timeline, Track } from './messages.js';

export interface PlayheadAt {
  state: 'playing' | 'paused' | 'stopped' | 'ended' | 'pending';
  trackIndex: number;
  positionSec: number;
}

/** The tracks' durations; a member's playlist may still have holes (pages not arrived yet). */
type Durations = readonly (Pick<Track, 'durationSec'> | undefined)[];

/** The track that follows `index` under `repeat`, or null at the end of the playlist. */
export function nextTrackIndex(repeat: RepeatMode, index: number, count: number): number | null {
  if (repeat === 'one') return index;
  if (index + 1 < count) return index + 1;
  return repeat === 'all' && count > 0 ? 0 : null;
}

/** Where the timeline puts the playhead at shared instant `at`. */
export function playheadAt(timeline: Timeline, tracks: Durations, at: SharedMs): PlayheadAt {
  const { trackIndex, positionSec } = timeline;
  if (timeline.state !== 'playing') {
    return { state: timeline.state, trackIndex, positionSec };
  }
  if (at < timeline.at) return { state: 'pending', trackIndex, positionSec };
  let index = trackIndex;
  let position = positionSec + (at - timeline.at) / 1000;
  // Whole laps of a repeated playlist (or track) are skipped arithmetically.
  const lap = timeline.repeat === 'one' ? (tracks[index]?.durationSec ?? 0) : timeline.repeat === 'all' ? tracks.reduce((sum, t) => sum + (t?.durationSec ?? 0), 0) : 0;
  const remainingInTrack = (tracks[index]?.durationSec ?? 0) - positionSec;
  if (lap > 0 && position - positionSec > remainingInTrack + lap) {
    const laps = Math.floor((position - positionSec - remainingInTrack) / lap);
    position -= laps * lap;
  }
  for (let steps = 0; steps <= tracks.length + 1; steps++) {
    const track = tracks[index];
    if (!track) break;
    if (position < track.durationSec) return { state: 'playing', trackIndex: index, positionSec: position };
    position -= track.durationSec;
    const next = nextTrackIndex(timeline.repeat, index, tracks.length);
    if (next === null) break;
    index = next;
  }
  return { state: 'ended', trackIndex: tracks.length, positionSec: 0 };
}

/**
 * The first shared instant after the timeline's anchor at which the playing timeline reaches the
 * start of track `index` through auto-advance, or null if it never does within one lap.
 */
export function trackStartsAt(timeline: Timeline, tracks: Durations, index: number): SharedMs | null {
  if (timeline.state !== 'playing') return null;
  let sec = -timeline.positionSec;
  let current = timeline.trackIndex;
  for (let steps = 0; steps < tracks.length + 1; steps++) {
    const track = tracks[current];
    if (!track) return null;
    sec += track.durationSec;
    const next = nextTrackIndex(timeline.repeat, current, tracks.length);
    if (next === null) return null;
    if (next === index) return sharedMs(timeline.at + sec * 1000);
    current = next;
  }
  return null;
}
