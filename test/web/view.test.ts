import { describe, expect, it } from 'vitest';
import { API_VERSION, type WebState } from '../../src/web/api.js';
import { changeKey } from '../../src/web/view.js';
import { sharedMs } from '../../src/clock/time.js';

function state(over: Partial<WebState> = {}): WebState {
  return {
    api: API_VERSION,
    now: 1000,
    timeline: { seq: 3, state: 'playing', trackIndex: 1, positionSec: 12, at: sharedMs(500), repeat: 'all', playlistVersion: 1 },
    playhead: { state: 'playing', trackIndex: 1, positionSec: 12.5 },
    track: { title: 'Harbour Lights', durationSec: 200 },
    trackCount: 3,
    repeat: 'all',
    members: [],
    schedule: { nextStart: null, nextStop: null },
    ...over,
  } as WebState;
}

describe('changeKey', () => {
  it('ignores the clock and the running position, and leaves the state it is given untouched', () => {
    const a = state();
    const b = state({ now: 99_999, playhead: { state: 'playing', trackIndex: 1, positionSec: 80 } });
    expect(changeKey(a)).toBe(changeKey(b));
    expect(a.now).toBe(1000);
    expect(a.playhead.positionSec).toBe(12.5);
    // every other field, in the state's own order, with the two moving values zeroed
    expect(JSON.parse(changeKey(a))).toEqual({ ...a, now: 0, playhead: { ...a.playhead, positionSec: 0 } });
    expect(Object.keys(JSON.parse(changeKey(a)))).toEqual(Object.keys(a));
  });

  it('changes with anything a page shows', () => {
    const base = changeKey(state());
    expect(changeKey(state({ playhead: { state: 'paused', trackIndex: 1, positionSec: 12.5 } }))).not.toBe(base);
    expect(changeKey(state({ playhead: { state: 'playing', trackIndex: 2, positionSec: 12.5 } }))).not.toBe(base);
    expect(changeKey(state({ repeat: 'one' }))).not.toBe(base);
    expect(changeKey(state({ trackCount: 4 }))).not.toBe(base);
  });
});
