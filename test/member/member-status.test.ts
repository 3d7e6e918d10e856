/**
 * The status report is built every second for as long as a member runs. Each report must reuse
 * one hidden class: an object spread followed by more properties made a new one per report on
 * Node 20, and each was promoted and kept until a full collection (member-status.ts).
 */
import { describe, expect, it } from 'vitest';
import { LeaderLink } from '../../src/member/leader-link.js';
import { memberStatus, type MemberStatus } from '../../src/member/member-status.js';
import type { FileCheck } from '../../src/member/file-check.js';
import type { Fetcher } from '../../src/member/fetch/fetcher.js';
import type { PlaylistCopy } from '../../src/member/playlist-copy.js';
import type { Logger } from '../../src/log/logger.js';
import { hiddenClassChanges as mapChanges } from '../hidden-classes.js';

const files = { summary: () => ({ status: 'ok', problems: [] }), checked: 3, total: 3 } as unknown as FileCheck;
const copy = { version: 2, received: 3 } as unknown as PlaylistCopy;
const fetcher = { progress: () => ({ trackIndex: null, doneBytes: 0, totalBytes: 0, rateBps: 0, queued: 0, fetched: 1, error: null }) } as unknown as Fetcher;
const sync = (i: number): Parameters<typeof memberStatus>[0] => ({ errorMs: i % 2 ? 0.1 * i : null, speed: 1 + i * 1e-7, trackIndex: 1, playerState: 'playing', latencyOffsetMs: 0, volume: 100, muted: false, hardSeeks: 0 });

describe('the status report', () => {
  it('the instrument sees the problem it guards against', () => {
    const base = { a: 1, b: 2, c: 3 };
    const spread = Array.from({ length: 50 }, () => ({ ...base, x: 1 }));
    expect(mapChanges(spread)).toBeGreaterThan(10);
  });

  it("a member's part has one hidden class, with and without the fetcher", () => {
    for (const f of [fetcher, null]) {
      const reports = Array.from({ length: 200 }, (_, i) => memberStatus(sync(i), files, copy, f));
      expect(mapChanges(reports)).toBe(0);
      expect(reports[5]).toMatchObject({ errorMs: 0.5, playerState: 'playing', fileStatus: 'ok', playlistVersion: 2, filesChecked: 3, filesTotal: 3 });
      expect('fetch' in reports[5]!).toBe(f !== null);
    }
  });

  it('the leader link completes each report in place, keeping one hidden class', () => {
    const made: MemberStatus[] = [];
    const log = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => log } as unknown as Logger;
    const link = new LeaderLink({ host: 'leader.test', port: 1, name: 'm1', secret: null, version: 'test', log, status: () => {
      const s = memberStatus(sync(made.length), files, copy, fetcher);
      made.push(s);
      return s;
    } });
    // Not connected: the report is built and completed, and sending it is a no-op.
    const sendStatus = (link as unknown as { sendStatus(): void }).sendStatus.bind(link);
    for (let i = 0; i < 200; i++) sendStatus();
    expect(mapChanges(made)).toBe(0);
    expect(made[3]).toMatchObject({ type: 'status', clockOffsetMs: null, rttMs: null, clockSkewPpm: null, fileStatus: 'ok' });
  });
});
