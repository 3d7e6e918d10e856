/**
 * MpvPlayer.loadAfterSilence on a real mpv writing its output to a file (`--ao=pcm`): the track's
 * first sample must follow exactly the requested length of silence, positions read must include
 * the silence, and the track queued after it must follow without a gap — at the sample.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWav, encodeWav } from '../../../src/audio/wav.js';
import { MpvProcess } from '../../../src/member/mpv/index.js';
import { MpvPlayer } from '../../../src/member/mpv/mpv-player.js';
import { prerollSilenceFor } from '../../../src/member/preroll-silence.js';
import { floatSilenceFile } from '../../../src/member/signal-file.js';

const RATE = 44_100;

/** A quiet 220 Hz tone of `seconds` with single full-scale clicks at the given seconds. */
function clickTrack(seconds: number, clicksAtSec: number[]): Buffer {
  const s = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < s.length; i++) s[i] = 0.05 * Math.sin((2 * Math.PI * 220 * i) / RATE);
  for (const c of clicksAtSec) s[Math.round(c * RATE)] = 0.95;
  return encodeWav(s, RATE, 2);
}

/** Sample indices of the clicks (left channel above 0.5) in a decoded output. */
function clicks(out: Float32Array): number[] {
  const at: number[] = [];
  for (let i = 0; i < out.length; i++) if (out[i]! > 0.5) at.push(i);
  return at;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncplay-after-silence-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a track after silence on a real mpv', () => {
  it('starts the track exactly after the silence, reads positions with the silence in them, and goes on into the next track without a gap', async () => {
    // Paths with the characters an edit list separates entries and fields by.
    const a = join(dir, 'one, two; three.wav');
    const b = join(dir, '%2%b; next.wav');
    writeFileSync(a, clickTrack(1.5, [0, 1]));
    writeFileSync(b, clickTrack(1, [0, 0.5]));
    const out = join(dir, 'out.wav');
    const silence = floatSilenceFile(2.5);
    const silenceSec = 0.37;
    const proc = new MpvProcess({ extraArgs: ['--ao=pcm', `--ao-pcm-file=${out}`] });
    const client = await proc.start();
    try {
      const player = new MpvPlayer(client);
      await player.setPaused(true);
      await player.loadAfterSilence(a, silence.path, silenceSec);
      await player.append(b);
      // paused at the entry's start: the silence's first sample
      expect(await client.getProperty<number>('time-pos')).toBeCloseTo(0, 3);
      const ended = player.whenEnded(20_000);
      await player.setPaused(false);
      await ended;
      const second = player.whenEnded(20_000);
      await second;
    } finally {
      await proc.stop();
    }
    const decoded = decodeWav(readFileSync(out));
    expect(decoded.sampleRate).toBe(RATE);
    const left = decoded.samples[0]!;
    const lead = Math.round(silenceSec * RATE);
    const lenA = Math.round(1.5 * RATE);
    // nothing but silence before the track
    expect(Math.max(...left.subarray(0, lead - 1).map(Math.abs))).toBe(0);
    // every click exactly where it belongs (±1 sample: the player's own rounding at a file's start)
    const want = [lead, lead + RATE, lead + lenA, lead + lenA + RATE / 2];
    const got = clicks(left);
    expect(got).toHaveLength(want.length);
    got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThanOrEqual(1));
  }, 60_000);

  it('a 48 kHz track after its silence plays at 48 kHz (the output keeps the first audio\'s rate)', async () => {
    const a = join(dir, 'hi-rate.wav');
    const s = new Float32Array(48_000);
    s[24_000] = 0.95;
    writeFileSync(a, encodeWav(s, 48_000, 2));
    const out = join(dir, 'out48.wav');
    const silence = await prerollSilenceFor(a);
    const proc = new MpvProcess({ extraArgs: ['--ao=pcm', `--ao-pcm-file=${out}`] });
    const client = await proc.start();
    try {
      const player = new MpvPlayer(client);
      await player.setPaused(true);
      await player.loadAfterSilence(a, silence.path, 0.25);
      const ended = player.whenEnded(20_000);
      await player.setPaused(false);
      await ended;
    } finally {
      await proc.stop();
    }
    const decoded = decodeWav(readFileSync(out));
    expect(decoded.sampleRate).toBe(48_000);
    // the click, unresampled: one sample, exactly 0.25 s + 0.5 s in
    expect(clicks(decoded.samples[0]!)).toEqual([12_000 + 24_000]);
  }, 30_000);

  it('reads positions in the entry\'s terms: the track\'s plus the silence', async () => {
    const a = join(dir, 'pos.wav');
    writeFileSync(a, clickTrack(3, []));
    const silence = floatSilenceFile(2.5);
    const proc = new MpvProcess({ extraArgs: ['--ao=null'] });
    const client = await proc.start();
    try {
      const player = new MpvPlayer(client);
      await player.setPaused(true);
      await player.loadAfterSilence(a, silence.path, 0.5);
      await player.setPaused(false);
      await new Promise((r) => setTimeout(r, 900));
      const r = await player.readPosition();
      // 0.9 s after the unpause: 0.4 s into the track, 0.9 s into the entry (a loaded host: ±0.3 s)
      expect(r.positionSec).toBeGreaterThan(0.6);
      expect(r.positionSec).toBeLessThan(1.2);
      expect(await client.getProperty<number>('duration')).toBeCloseTo(3.5, 2);
    } finally {
      await proc.stop();
    }
  }, 30_000);
});
