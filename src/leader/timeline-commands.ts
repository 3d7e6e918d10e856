/**
 * The leader's commands as pure functions: each turns the current timeline into the next one,
 * effective at the future shared instant `at`. The playhead at `at` under the old timeline is
 * where the new one takes over, so a command never jumps the music except where it means to.
 */
import { sharedMs, type SharedMs } from '../clock/time.js';
import { nextTrackIndex, playheadAt, type RepeatMode, type Timeline, type Track } from '../protocol/index.js';

export type Command =
  | { kind: 'play'; trackIndex?: number }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'stop' }
  | { kind: 'next' }
  | { kind: 'prev' }
  | { kind: 'seek'; seconds: number; relative?: boolean }
  | { kind: 'repeat'; mode: RepeatMode };

export type CommandResult = { ok: true; timeline: Timeline } | { ok: false; error: string };

/** `prev` within this many seconds of a track's start goes to the previous track; later it restarts the track. */
export const PREV_RESTART_THRESHOLD_SEC = 3;

export function applyCommand(current: Timeline, tracks: readonly Track[], command: Command, at: SharedMs): CommandResult {
  if (tracks.length === 0) return { ok: false, error: 'the playlist is empty' };
  const here = playheadAt(current, tracks, at);
  const seq = current.seq + 1;
  const ended = here.state === 'ended';
  const index = ended ? 0 : Math.min(here.trackIndex, tracks.length - 1);
  const make = (state: Timeline['state'], trackIndex: number, positionSec: number): CommandResult => ({
    ok: true,
    timeline: { seq, state, trackIndex, positionSec: Math.max(0, positionSec), at, repeat: current.repeat, playlistVersion: current.playlistVersion },
  });
  const running = here.state === 'playing' || here.state === 'pending';

  switch (command.kind) {
    case 'play': {
      if (command.trackIndex !== undefined) {
        if (!Number.isInteger(command.trackIndex) || command.trackIndex < 0 || command.trackIndex >= tracks.length) {
          return { ok: false, error: `no track ${command.trackIndex + 1}: the playlist has ${tracks.length} tracks` };
        }
        return make('playing', command.trackIndex, 0);
      }
      if (running) return { ok: false, error: 'already playing' };
      if (here.state === 'paused') return make('playing', index, here.positionSec);
      return make('playing', index, 0);
    }
    case 'resume':
      if (here.state !== 'paused') return { ok: false, error: `nothing to resume (${describe(here.state)})` };
      return make('playing', index, here.positionSec);
    case 'pause':
      if (!running) return { ok: false, error: `nothing to pause (${describe(here.state)})` };
      return make('paused', index, here.positionSec);
    case 'stop':
      if (here.state === 'stopped' || ended) return { ok: false, error: 'already stopped' };
      return make('stopped', index, 0);
    case 'next': {
      const next = nextTrackIndex(current.repeat === 'one' ? 'all' : current.repeat, index, tracks.length);
      if (next === null) return { ok: false, error: 'already at the last track' };
      return make(running ? 'playing' : here.state === 'paused' ? 'paused' : 'stopped', next, 0);
    }
    case 'prev': {
      const state = running ? 'playing' : here.state === 'paused' ? 'paused' : 'stopped';
      if (here.positionSec > PREV_RESTART_THRESHOLD_SEC) return make(state, index, 0);
      if (index === 0) return make(state, current.repeat === 'off' ? 0 : tracks.length - 1, 0);
      return make(state, index - 1, 0);
    }
    case 'seek': {
      if (!Number.isFinite(command.seconds)) return { ok: false, error: 'seek needs a number of seconds' };
      if (here.state === 'stopped' || ended) return { ok: false, error: 'nothing to seek in (stopped); play first' };
      const duration = tracks[index]!.durationSec;
      const target = command.relative ? here.positionSec + command.seconds : command.seconds;
      if (target >= duration) return { ok: false, error: `seek to ${target.toFixed(1)} s is past the end of the track (${duration.toFixed(1)} s)` };
      return make(running ? 'playing' : 'paused', index, Math.max(0, target));
    }
    case 'repeat': {
      // The playhead carries on untouched; only what follows the current track changes.
      const state = running ? 'playing' : here.state === 'paused' ? 'paused' : 'stopped';
      return { ok: true, timeline: { seq, state, trackIndex: index, positionSec: ended ? 0 : here.positionSec, at, repeat: command.mode, playlistVersion: current.playlistVersion } };
    }
  }
}

/**
 * The same timeline restated from a later instant: identical meaning, smaller numbers, and
 * a playlist that has run out becomes 'stopped' at the first track. The sequence number stays:
 * it names the command, and members that already follow it have nothing new to do.
 */
export function normalizeTimeline(current: Timeline, tracks: readonly Track[], now: SharedMs): Timeline {
  if (current.state !== 'playing' || now < current.at) return current;
  const here = playheadAt(current, tracks, now);
  if (here.state === 'ended') {
    return { seq: current.seq, state: 'stopped', trackIndex: 0, positionSec: 0, at: now, repeat: current.repeat, playlistVersion: current.playlistVersion };
  }
  // Anchor at the start of the track now playing (also when a repeated track started over).
  const startAt = sharedMs(now - here.positionSec * 1000);
  const anchoredTrackStart = current.at - current.positionSec * 1000;
  if (here.trackIndex === current.trackIndex && Math.abs(startAt - anchoredTrackStart) < 1) return current;
  return { seq: current.seq, state: 'playing', trackIndex: here.trackIndex, positionSec: 0, at: startAt, repeat: current.repeat, playlistVersion: current.playlistVersion };
}

function describe(state: string): string {
  return state === 'ended' ? 'the playlist has ended' : `the timeline is ${state}`;
}
