/**
 * The fetcher's loop against a fake file check and cache: a verdict that arrives while the loop is
 * busy (verifying a cached file) must not be lost. A member restarted with its whole playlist in
 * the cache gets its verdicts one by one; every cached track must become playable, not only the
 * ones that were known when the loop last looked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import type { FileCheck } from '../../src/member/file-check.js';
import type { FileCache } from '../../src/member/fetch/file-cache.js';
import { Fetcher } from '../../src/member/fetch/fetcher.js';
import type { FileStatus, Track } from '../../src/protocol/index.js';

const tracks: Track[] = [1, 2, 3].map((i) => ({ path: `t${i}.ogg`, hash: String(i).repeat(64), durationSec: 30, title: `t${i}` }));

let fetcher: Fetcher | null = null;
afterEach(async () => {
  await fetcher?.stop();
  fetcher = null;
});

describe('Fetcher wake-ups', () => {
  it('keeps a wake that comes while a cached file is being verified', async () => {
    const status: FileStatus[] = ['missing', 'checking', 'checking'];
    const supplied: number[] = [];
    const files = {
      playlist: tracks,
      statusOf: (i: number) => status[i],
      supply: (hash: string) => {
        const out: number[] = [];
        tracks.forEach((t, i) => {
          if (t.hash === hash && status[i] !== 'ok') {
            status[i] = 'ok';
            out.push(i);
          }
        });
        return out;
      },
      setFetching: () => {},
    } as unknown as FileCheck;
    // The first lookup (track 1) is held until the test lets it go; the others answer at once.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let lookups = 0;
    const cache = {
      lookup: async (hash: string) => {
        lookups += 1;
        if (lookups === 1) await held;
        return `/cache/${hash}.ogg`;
      },
    } as unknown as FileCache;
    fetcher = new Fetcher({
      cache,
      files,
      log: createLogger('error', 'member'),
      name: 'tester',
      secret: null,
      source: () => null,
      position: () => ({ trackIndex: 0, repeat: 'off' }),
      onSupplied: (indices) => supplied.push(...indices),
    });
    fetcher.start();
    await until(() => lookups === 1);
    // While track 1's cached copy is being verified, tracks 2 and 3 turn out to be missing.
    status[1] = 'missing';
    status[2] = 'missing';
    fetcher.wake();
    release();
    await until(() => supplied.length === 3);
    expect(supplied.sort()).toEqual([0, 1, 2]);
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
