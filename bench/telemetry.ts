/**
 * Member telemetry files (`syncplay member --telemetry FILE`, one JSON line per accepted reading),
 * read while the member may still be writing them, and the true error of a reading.
 *
 * Every process on this machine reads the same CLOCK_MONOTONIC, so a reading's `localMs` already
 * is an instant on the leader's clock: the true error needs no clock estimate.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { TelemetryLine } from '../src/member/telemetry.js';
import { sharedMs } from '../src/clock/time.js';
import type { Timeline, Track } from '../src/protocol/messages.js';
import { playheadAt } from '../src/protocol/timeline.js';

export type { TelemetryLine };

/** Every complete reading in `file` ([] when it does not exist yet); a torn last line is skipped. */
export function readTelemetry(file: string): TelemetryLine[] {
  if (!existsSync(file)) return [];
  const out: TelemetryLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as TelemetryLine;
      if (typeof r.localMs === 'number' && typeof r.audioPtsSec === 'number') out.push(r);
    } catch {
      /* a line being written right now */
    }
  }
  return out;
}

/**
 * The true error of a reading against `timeline`, ms (positive = ahead), or null when the timeline
 * does not have that track playing at the instant the reading's sound is heard.
 */
export function trueErrorMs(r: Pick<TelemetryLine, 'localMs' | 'latencyOffsetMs' | 'trackIndex' | 'audioPtsSec'>, timeline: Timeline, tracks: readonly Pick<Track, 'durationSec'>[]): number | null {
  // One machine: a member's monotonic clock is the leader's, so its local instant is the shared one.
  const p = playheadAt(timeline, tracks, sharedMs(r.localMs + r.latencyOffsetMs));
  if (p.state !== 'playing' || p.trackIndex !== r.trackIndex) return null;
  return (r.audioPtsSec - p.positionSec) * 1000;
}
