/**
 * The leader UI's key map, as a pure function from a key press to what it means. Every action
 * is a ControlRequest: the UI drives the leader through ControlServer.handle, exactly like
 * `syncplay ctl`.
 */
import type { Key } from 'ink';
import type { ControlRequest } from '../control-server.js';
import type { LeaderStatus } from '../leader.js';

export const SEEK_STEP_SEC = 10;
export const VOLUME_STEP = 5;
export const OFFSET_STEP_MS = 1;

/** The member the volume, mute and latency keys act on; ALL_MEMBERS means every member. */
export const ALL_MEMBERS = 'all';

export type Intent =
  | { kind: 'request'; request: ControlRequest }
  | { kind: 'select'; delta: number }
  | { kind: 'quit' }
  | { kind: 'help' }
  | { kind: 'remote' }
  | { kind: 'none' };

const REPEAT_CYCLE = { off: 'all', all: 'one', one: 'off' } as const;

/** True while the timeline plays (or is about to): quitting then asks first. */
export function isPlaying(status: LeaderStatus): boolean {
  return status.playhead.state === 'playing' || status.playhead.state === 'pending';
}

/** Space: pause when playing, resume when paused, play when stopped or at the end. */
export function playPauseRequest(status: LeaderStatus): ControlRequest {
  if (isPlaying(status)) return { cmd: 'pause' };
  if (status.playhead.state === 'paused') return { cmd: 'resume' };
  return { cmd: 'play' };
}

export function keyIntent(input: string, key: Partial<Key>, status: LeaderStatus, selected: string): Intent {
  const request = (r: ControlRequest): Intent => ({ kind: 'request', request: r });
  if (key.leftArrow) return request({ cmd: 'seek', seconds: -SEEK_STEP_SEC, relative: true });
  if (key.rightArrow) return request({ cmd: 'seek', seconds: SEEK_STEP_SEC, relative: true });
  if (key.upArrow) return { kind: 'select', delta: -1 };
  if (key.downArrow) return { kind: 'select', delta: 1 };
  if (key.ctrl || key.meta) return { kind: 'none' };
  switch (input) {
    case ' ':
      return request(playPauseRequest(status));
    case 'n':
      return request({ cmd: 'next' });
    case 'p':
      return request({ cmd: 'prev' });
    case 's':
      return request({ cmd: 'stop' });
    case 'r':
      return request({ cmd: 'repeat', mode: REPEAT_CYCLE[status.repeat] });
    case '+':
    case '=':
      return request({ cmd: 'volume', member: selected, delta: VOLUME_STEP });
    case '-':
    case '_':
    case '−':
      return request({ cmd: 'volume', member: selected, delta: -VOLUME_STEP });
    case 'm':
      if (selected === ALL_MEMBERS) {
        // One press mutes everyone; the next unmutes everyone (rather than flipping each one).
        const all = status.members.length > 0 && status.members.every((m) => m.muted);
        return request({ cmd: 'mute', member: ALL_MEMBERS, muted: !all });
      }
      return request({ cmd: 'mute', member: selected });
    case '[':
      return request({ cmd: 'offset', member: selected, ms: -OFFSET_STEP_MS, relative: true });
    case ']':
      return request({ cmd: 'offset', member: selected, ms: OFFSET_STEP_MS, relative: true });
    case 'k':
      return { kind: 'select', delta: -1 };
    case 'j':
      return { kind: 'select', delta: 1 };
    case 'q':
    case 'Q':
      return { kind: 'quit' };
    case '?':
    case 'h':
      return { kind: 'help' };
    case 'w':
      return { kind: 'remote' };
    default:
      return { kind: 'none' };
  }
}

/** [key, what it does] for the help overlay and the README. */
export const KEY_HELP: [string, string][] = [
  ['space', 'play / pause / resume (play when stopped)'],
  ['n  p', 'next / previous track'],
  ['←  →', `seek −${SEEK_STEP_SEC} s / +${SEEK_STEP_SEC} s`],
  ['↑  ↓', 'select a member (top row: all members)'],
  ['+  −', `volume +${VOLUME_STEP} / −${VOLUME_STEP} of the selection`],
  ['m', 'mute / unmute the selection'],
  ['[  ]', `latency offset −${OFFSET_STEP_MS} / +${OFFSET_STEP_MS} ms of the selection`],
  ['s', 'stop'],
  ['r', 'repeat: off → all → one'],
  ['w', "the web remote's link and its QR code, for a phone (any key closes it)"],
  ['?', 'this help (any key closes it)'],
  ['q', 'quit: stops the leader (asks y/n while playing)'],
];
