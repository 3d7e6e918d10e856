/** When the terminal UI reads the status again: right after the playing clock's second turns, often while scanning, else once a second. */
import { describe, expect, it } from 'vitest';
import { nextRefreshMs, UI_REFRESH } from '../../../src/leader/ui/refresh.js';
import type { ProgressView } from '../../../src/playlist/progress.js';

const playhead = (state: 'playing' | 'paused' | 'stopped' | 'pending' | 'ended', positionSec = 0) => ({ state, trackIndex: 0, positionSec });
const scanning: ProgressView = { phase: 'reading', done: 1, total: 10, cached: 0, ratePerSec: 1, etaSec: 9, elapsedSec: 1 };

describe('nextRefreshMs', () => {
  it('wakes just after the playing position reaches its next whole second', () => {
    expect(nextRefreshMs({ playhead: playhead('playing', 12.25), scan: null })).toBe(750 + UI_REFRESH.AFTER_SECOND_MS);
    expect(nextRefreshMs({ playhead: playhead('playing', 12.0), scan: null })).toBe(1000 + UI_REFRESH.AFTER_SECOND_MS);
    // Right before the second turns: not sooner than the floor.
    expect(nextRefreshMs({ playhead: playhead('playing', 12.999), scan: null })).toBe(UI_REFRESH.MIN_MS);
  });

  it('reads once a second when nothing plays, more often while scanning or starting', () => {
    expect(nextRefreshMs({ playhead: playhead('paused', 3.5), scan: null })).toBe(UI_REFRESH.IDLE_MS);
    expect(nextRefreshMs({ playhead: playhead('stopped'), scan: { ...scanning, phase: 'done' } })).toBe(UI_REFRESH.IDLE_MS);
    expect(nextRefreshMs({ playhead: playhead('stopped'), scan: scanning })).toBe(UI_REFRESH.SCANNING_MS);
    expect(nextRefreshMs({ playhead: playhead('playing', 0.1), scan: scanning })).toBe(UI_REFRESH.SCANNING_MS);
    expect(nextRefreshMs({ playhead: playhead('pending'), scan: null })).toBe(UI_REFRESH.PENDING_MS);
  });
});
