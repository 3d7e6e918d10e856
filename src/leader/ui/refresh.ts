/**
 * When the terminal UI reads the leader's status again. A frame costs the UI a React render, an
 * Ink layout and a terminal write, so it redraws only as often as what it shows can change:
 * once per second of the playing track (the clock shows whole seconds; the wake-up is put just
 * after the second turns, so the clock never skips or stalls), twice a second while the music
 * dir is scanned (the scan widget's counts), and once a second otherwise (members' numbers,
 * the log). A key press does not wait for this: its reply redraws at once.
 */
import type { LeaderStatus } from '../leader.js';

export const UI_REFRESH = {
  /** nothing moving: members' numbers, the log pane and "status N s ago" are read this often */
  IDLE_MS: 1000,
  /** while the music dir is scanned: the scan widget's counts and rate */
  SCANNING_MS: 500,
  /** after the playing position's second turns, wait this much more (timer lateness) */
  AFTER_SECOND_MS: 15,
  /** a start is pending (STARTING): it turns into PLAYING within the lead time, show it promptly */
  PENDING_MS: 200,
  /** never sooner than this (a status read right at a second boundary) */
  MIN_MS: 100,
} as const;

/** Milliseconds until the status should be read again, given the last one. */
export function nextRefreshMs(status: Pick<LeaderStatus, 'playhead' | 'scan'>): number {
  let wait: number = UI_REFRESH.IDLE_MS;
  if (status.playhead.state === 'playing') {
    // The clock shows Math.floor(position): it turns at the next whole second of the position
    // (the track plays at speed 1 on the party clock).
    const frac = status.playhead.positionSec - Math.floor(status.playhead.positionSec);
    wait = Math.round((1 - frac) * 1000) + UI_REFRESH.AFTER_SECOND_MS;
  }
  if (status.playhead.state === 'pending') wait = Math.min(wait, UI_REFRESH.PENDING_MS);
  if (status.scan && status.scan.phase !== 'done') wait = Math.min(wait, UI_REFRESH.SCANNING_MS);
  return Math.max(UI_REFRESH.MIN_MS, Math.min(UI_REFRESH.IDLE_MS + UI_REFRESH.AFTER_SECOND_MS, wait));
}
