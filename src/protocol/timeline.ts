/**
 * What a timeline means at any shared instant.
 *
 * A playing timeline says "at instant `at` the playlist is at (trackIndex, positionSec)" and
 * advances at rate 1: at instant t the playlist has advanced by (t − at)/1000 s, crossing into
 * the following tracks as each one's duration runs out (continuous playback). Past the last
 * track the playlist is over (state 'ended'). Paused and stopped timelines stand still.
 */
import type { Timeline, Track } from './messages.js';

export interface PlayheadAt {
  state: 'playing' | 'paused' | 'stopped' | 'ended' | 'pending';
  trackIndex: number;
  positionSec: number;
}

/** Where the timeline puts the playhead at shared instant `sharedMs`. */
export function playheadAt(timeline: Timeline, tracks: readonly Pick<Track, 'durationSec'>[], sharedMs: number): PlayheadAt {
  const { trackIndex, positionSec } = timeline;
  if (timeline.state !== 'playing') {
    return { state: timeline.state, trackIndex, positionSec };
  }
  if (sharedMs < timeline.at) return { state: 'pending', trackIndex, positionSec };
  let index = trackIndex;
  let position = positionSec + (sharedMs - timeline.at) / 1000;
  for (;;) {
    const track = tracks[index];
    if (!track) return { state: 'ended', trackIndex: tracks.length, positionSec: 0 };
    if (position < track.durationSec) return { state: 'playing', trackIndex: index, positionSec: position };
    position -= track.durationSec;
    index += 1;
  }
}

/** The shared instant at which the playing timeline reaches the start of track `index` (> timeline.trackIndex). */
export function trackStartsAt(timeline: Timeline, tracks: readonly Pick<Track, 'durationSec'>[], index: number): number | null {
  if (timeline.state !== 'playing' || index <= timeline.trackIndex || index > tracks.length) return null;
  let sec = -timeline.positionSec;
  for (let i = timeline.trackIndex; i < index; i++) sec += tracks[i]!.durationSec;
  return timeline.at + sec * 1000;
}
