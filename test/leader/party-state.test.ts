import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedMs, wallMs } from '../../src/clock/time.js';
import { PartyStateStore, RESUME_AFTER_STOP_MS, playlistDigest, resumeFrom, type PartyState } from '../../src/leader/party-state.js';
import { silentLogger } from '../../src/log/logger.js';
import { seededShuffle } from '../../src/playlist/shuffle.js';
import type { Track } from '../../src/protocol/index.js';

const tracks: Track[] = [1, 2, 3, 4].map((i) => ({ path: `t${i}.ogg`, hash: String(i).repeat(64), durationSec: 100, title: `T${i}` }));
const digest = playlistDigest(tracks);
const playing = { seq: 4, state: 'playing' as const, trackIndex: 1, positionSec: 10, at: sharedMs(50_000), repeat: 'off' as const, playlistVersion: 1 };
const saved = (over: Partial<PartyState> = {}): PartyState => ({ version: 1, playlistDigest: digest, shuffleSeed: null, clockKind: 'monotonic', bootId: 'boot-1', timeline: playing, savedAtWallMs: wallMs(1_000_000), savedAtSharedMs: sharedMs(60_000), stopped: false, ...over });
/** What the restarted leader knows; instants as plain numbers (wall, shared). */
const now = (over: Partial<{ digest: string; clockKind: 'monotonic' | 'utc'; bootId: string | null; wallMs: number; sharedMs: number }> = {}): Parameters<typeof resumeFrom>[1] => {
  const n = { digest, clockKind: 'monotonic' as const, bootId: 'boot-1', wallMs: 1_005_000, sharedMs: 65_000, ...over };
  return { ...n, wallMs: wallMs(n.wallMs), sharedMs: sharedMs(n.sharedMs) };
};

describe('party state: what a restarted leader resumes', () => {
  it('the same timeline, untouched, on the same clock and playlist', () => {
    expect(resumeFrom(saved(), now(), tracks)).toEqual({ kind: 'as-is', timeline: playing });
    expect(resumeFrom(saved({ clockKind: 'utc' }), now({ clockKind: 'utc', bootId: 'other' }), tracks)).toEqual({ kind: 'as-is', timeline: playing });
  });

  it('paused where it had got to after a reboot (another monotonic clock)', () => {
    const r = resumeFrom(saved(), now({ bootId: 'boot-2', sharedMs: 1234 }), tracks);
    // saved at shared 60 000: 10 s after the instant, so 10 + 10 = 20 s into track 2.
    expect(r).toEqual({ kind: 'paused', timeline: { seq: 5, state: 'paused', trackIndex: 1, positionSec: 20, at: 1234, repeat: 'off', playlistVersion: 1 } });
  });

  it('nothing when the playlist changed, or when stopped on purpose long ago', () => {
    expect(resumeFrom(saved(), now({ digest: 'x' }), tracks).kind).toBe('none');
    expect(resumeFrom(saved({ stopped: true }), now({ wallMs: 1_000_000 + RESUME_AFTER_STOP_MS + 1 }), tracks).kind).toBe('none');
    expect(resumeFrom(saved({ stopped: true }), now({ wallMs: 1_000_000 + 5000 }), tracks).kind).toBe('as-is');
    expect(resumeFrom(null, now(), tracks).kind).toBe('none');
  });

  it('is written atomically, read back, and an unreadable file is set aside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'party-state-'));
    const store = new PartyStateStore(join(dir, 'party.json'), silentLogger);
    expect(store.load()).toBeNull();
    store.save(saved());
    expect(new PartyStateStore(join(dir, 'party.json'), silentLogger).load()).toEqual(saved());
    expect(readdirSync(dir)).toEqual(['party.json']);
    writeFileSync(join(dir, 'party.json'), '{"version":1,"timeline":{"seq":-1');
    expect(new PartyStateStore(join(dir, 'party.json'), silentLogger).load()).toBeNull();
    expect(readdirSync(dir).some((f) => f.startsWith('party.json.unreadable-'))).toBe(true);
  });

  it('a shuffle seed gives the same order every time, another seed another order', () => {
    const many = Array.from({ length: 50 }, (_, i) => i);
    expect(seededShuffle(many, 'abc')).toEqual(seededShuffle(many, 'abc'));
    expect(seededShuffle(many, 'abc')).not.toEqual(seededShuffle(many, 'abd'));
    expect([...seededShuffle(many, 'abc')].sort((x, y) => x - y)).toEqual(many);
  });
});
