/**
 * The silence before a pre-rolled start is written at the track's own sample rate (the player
 * keeps the first audio's format: other silence would have the music resampled).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { prerollSilenceFor } from '../../src/member/preroll-silence.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncplay-preroll-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('prerollSilenceFor', () => {
  it('writes 2.5 s of float stereo silence at the track\'s rate, and the CD rate for a file it cannot read', async () => {
    for (const rate of [48_000, 44_100, 96_000]) {
      const track = join(dir, `t${rate}.wav`);
      writeFileSync(track, encodeWav(new Float32Array(rate / 10), rate, 2));
      const s = await prerollSilenceFor(track);
      const wav = decodeWav(readFileSync(s.path));
      expect(wav.sampleRate).toBe(rate);
      expect(wav.channels).toBe(2);
      expect(wav.samples[0]!.length).toBe(Math.round(2.5 * rate));
      expect(wav.samples[0]!.every((v) => v === 0)).toBe(true);
      expect(s.durationSec).toBe(2.5);
      // 32-bit float, like decoded music
      const b = readFileSync(s.path);
      expect(b.readUInt16LE(20)).toBe(3);
      expect(b.readUInt16LE(34)).toBe(32);
    }
    const junk = join(dir, 'junk.mp3');
    writeFileSync(junk, 'not audio at all');
    expect(decodeWav(readFileSync((await prerollSilenceFor(junk)).path)).sampleRate).toBe(44_100);
    expect(decodeWav(readFileSync((await prerollSilenceFor(join(dir, 'missing.flac'))).path)).sampleRate).toBe(44_100);
  });
});
