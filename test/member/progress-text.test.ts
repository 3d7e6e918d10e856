import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/ctl-command.js';
import type { LeaderStatus, MemberView } from '../../src/leader/leader.js';
import { fetchCell, fetchText } from '../../src/member/fetch/progress-text.js';

const progress = { trackIndex: 2, doneBytes: 13_500_000, totalBytes: 30_000_000, rateBps: 2_100_000, queued: 4, fetched: 1, error: null };

describe('fetch progress text', () => {
  it('says which track, how far, how fast and what is left', () => {
    expect(fetchText(progress)).toBe('fetching track 3: 45% of 30 MB at 2.1 MB/s, 3 more to go');
    expect(fetchCell(progress)).toBe('↓45%');
    expect(fetchText({ ...progress, trackIndex: null, doneBytes: 0, totalBytes: 0, error: 'no file server at 10.0.0.2:4000' })).toBe('fetch failed (no file server at 10.0.0.2:4000), 4 to go');
    expect(fetchText({ ...progress, trackIndex: null, queued: 0 })).toBeNull();
    expect(fetchCell(null)).toBe('');
  });

  it('appears in ctl status for a fetching member', () => {
    const member = { id: '1', name: 'kitchen', address: '10.0.0.3:5000', connected: true, clockOffsetMs: 0, rttMs: 0.2, clockSkewPpm: 0, errorMs: null, speed: 1, playerState: 'silent', fileStatus: 'fetching', fileProblems: [{ index: 2, status: 'fetching' }], latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0, trackIndex: null, statusAgeMs: 100, fetch: progress } as MemberView;
    const status = {
      now: 0,
      timeline: { seq: 1, state: 'playing', trackIndex: 2, positionSec: 1, at: 0, repeat: 'off' },
      playhead: { state: 'playing', trackIndex: 2, positionSec: 1 },
      track: { path: 'c.ogg', hash: 'a'.repeat(64), durationSec: 200, title: 'C' },
      tracks: [],
      playlist: { version: 1, count: 3, durationSec: 600 },
      scan: null,
      members: [member],
      listening: { host: '0.0.0.0', port: 7655 },
      schedule: { nextStart: null, nextStop: null },
      repeat: 'off',
      files: { port: 40123, rateBytesPerSec: 2 * 1024 * 1024, stats: { bytesServed: 13_500_000, chunksServed: 13, manifestsServed: 1, activeTransfers: 1, refused: 0 } },
    } as unknown as LeaderStatus;
    const text = formatStatus(status);
    expect(text).toMatch(/fetching \(#3 fetching\) ↓45%/);
    expect(text).toMatch(/kitchen: fetching track 3: 45% of 30 MB at 2\.1 MB\/s/);
    expect(text).toMatch(/files served on port 40123: 13\.5 MB so far, at most 2\.0 MiB\/s/);
  });
});
