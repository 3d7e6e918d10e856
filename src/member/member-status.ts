/**
 * The status a member reports to its leader every second, written out field by field.
 *
 * Not `{ ...sync.status(), fileStatus, … }`: on Node 20 (V8 11.3) an object spread followed by
 * more properties gives every object it makes a fresh hidden class (map) for the properties added
 * after the copy. Those maps hang off the transition tree, which young collections keep alive, so
 * each one was promoted and stayed in the old space until the next full collection: ~2 KB per
 * report, 7 MB an hour of a member's 9 MB an hour of promoted garbage (measured with
 * `--trace-gc-nvp`; the spread last, or a plain literal, makes no such maps).
 */
import type { StatusMessage } from '../protocol/index.js';
import type { FileCheck } from './file-check.js';
import type { Fetcher } from './fetch/fetcher.js';
import type { PlaylistCopy } from './playlist-copy.js';
import type { PlayerSync } from './sync/player-sync.js';

export type MemberStatus = Omit<StatusMessage, 'type' | 'clockOffsetMs' | 'rttMs' | 'clockSkewPpm'>;

export function memberStatus(sync: ReturnType<PlayerSync['status']>, files: FileCheck, copy: PlaylistCopy | null, fetcher: Fetcher | null): MemberStatus {
  const summary = files.summary();
  const status: MemberStatus = {
    errorMs: sync.errorMs,
    speed: sync.speed,
    trackIndex: sync.trackIndex,
    playerState: sync.playerState,
    latencyOffsetMs: sync.latencyOffsetMs,
    volume: sync.volume,
    muted: sync.muted,
    hardSeeks: sync.hardSeeks,
    fileStatus: summary.status,
    fileProblems: summary.problems,
    playlistVersion: copy?.version ?? 0,
    tracksReceived: copy?.received ?? 0,
    filesChecked: files.checked,
    filesTotal: files.total,
  };
  if (fetcher) status.fetch = fetcher.progress();
  return status;
}
