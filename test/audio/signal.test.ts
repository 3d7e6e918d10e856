import { describe, expect, it } from 'vitest';
import { DEFAULT_SWEEP, renderSweep, sweepLength, sweepValueAt, validateSweep } from '../../src/audio/signal.js';
import type { SweepSpec } from '../../src/audio/signal.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';

describe('renderSweep', () => {
  it('is deterministic and has the specified length and peak', () => {
    const a = renderSweep(DEFAULT_SWEEP);
    const b = renderSweep({ ...DEFAULT_SWEEP });
    expect(a.length).toBe(sweepLength(DEFAULT_SWEEP));
    expect(a.length).toBe(72_000);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    let peak = 0;
    for (const v of a) peak = Math.max(peak, Math.abs(v));
    expect(peak).toBeLessThanOrEqual(DEFAULT_SWEEP.amplitude + 1e-6);
    expect(peak).toBeGreaterThan(DEFAULT_SWEEP.amplitude * 0.999);
  });

  it('fades in and out without a click', () => {
    const x = renderSweep(DEFAULT_SWEEP);
    expect(x[0]).toBe(0);
    expect(Math.abs(x[x.length - 1]!)).toBeLessThan(1e-3);
    // The first millisecond stays far below full amplitude.
    for (let i = 0; i < 48; i++) expect(Math.abs(x[i]!)).toBeLessThan(0.01);
  });

  it('sweeps from f0 to f1 (instantaneous frequency from zero crossings)', () => {
    const spec: SweepSpec = { ...DEFAULT_SWEEP, fadeSec: 0 };
    const freqAt = (t: number) => {
      // Count zero crossings in a 20 ms window centred on t.
      const x = renderSweep(spec);
      const a = Math.round((t - 0.01) * spec.sampleRate);
      const b = Math.round((t + 0.01) * spec.sampleRate);
      let z = 0;
      for (let i = Math.max(1, a); i < Math.min(x.length, b); i++) if (x[i - 1]! < 0 !== x[i]! < 0) z++;
      return z / 2 / 0.02;
    };
    const K = spec.durationSec / Math.log(spec.f1 / spec.f0);
    for (const t of [0.2, 0.75, 1.3]) {
      const expected = spec.f0 * Math.exp(t / K);
      expect(Math.abs(freqAt(t) - expected) / expected).toBeLessThan(0.05);
    }
  });

  it('renders exactly the continuous-time sweep', () => {
    const x = renderSweep(DEFAULT_SWEEP);
    expect(x[12_345]).toBe(Math.fround(sweepValueAt(DEFAULT_SWEEP, 12_345 / 48_000)));
    expect(sweepValueAt(DEFAULT_SWEEP, -0.001)).toBe(0);
    expect(sweepValueAt(DEFAULT_SWEEP, 1.6)).toBe(0);
  });

  it('rejects invalid specs', () => {
    expect(() => validateSweep({ ...DEFAULT_SWEEP, f1: 30_000 })).toThrow(/f1/);
    expect(() => validateSweep({ ...DEFAULT_SWEEP, f0: 9000 })).toThrow(/f1/);
    expect(() => validateSweep({ ...DEFAULT_SWEEP, amplitude: 1.5 })).toThrow(/amplitude/);
    expect(() => validateSweep({ ...DEFAULT_SWEEP, fadeSec: 1 })).toThrow(/fadeSec/);
    expect(() => renderSweep({ ...DEFAULT_SWEEP, durationSec: 0 })).toThrow(/durationSec/);
  });
});

describe('WAV', () => {
  it('round-trips mono 16-bit within half an LSB', () => {
    const x = renderSweep(DEFAULT_SWEEP);
    const buf = encodeWav(x, 48_000);
    expect(buf.length).toBe(44 + 2 * x.length);
    const w = decodeWav(buf);
    expect(w.sampleRate).toBe(48_000);
    expect(w.channels).toBe(1);
    expect(w.samples).toHaveLength(1);
    const y = w.samples[0]!;
    expect(y.length).toBe(x.length);
    let maxErr = 0;
    for (let i = 0; i < x.length; i++) maxErr = Math.max(maxErr, Math.abs(x[i]! - y[i]!));
    expect(maxErr).toBeLessThanOrEqual(0.5 / 32768 + 1e-9);
  });

  it('writes a mono signal to both channels of a stereo file, or separate channels', () => {
    const x = Float32Array.from([0, 0.5, -0.5, 1, -1, 2, -2]);
    const st = decodeWav(encodeWav(x, 44_100, 2));
    expect(st.channels).toBe(2);
    expect(Array.from(st.samples[0]!)).toEqual(Array.from(st.samples[1]!));
    expect(Array.from(st.samples[0]!)).toEqual([0, 0.5, -0.5, 32767 / 32768, -1, 32767 / 32768, -1]);
    const l = Float32Array.from([0.25, 0.25]);
    const r = Float32Array.from([-0.25, 0]);
    const two = decodeWav(encodeWav([l, r], 8000));
    expect(Array.from(two.samples[0]!)).toEqual([0.25, 0.25]);
    expect(Array.from(two.samples[1]!)).toEqual([-0.25, 0]);
    expect(() => encodeWav([l, Float32Array.from([1])], 8000)).toThrow(/length/);
  });

  it('has a standard 44-byte PCM header', () => {
    const buf = encodeWav(new Float32Array(10), 48_000, 2);
    expect(buf.toString('ascii', 0, 4)).toBe('RIFF');
    expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
    expect(buf.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(buf.readUInt16LE(20)).toBe(1);
    expect(buf.readUInt16LE(22)).toBe(2);
    expect(buf.readUInt32LE(24)).toBe(48_000);
    expect(buf.readUInt32LE(28)).toBe(48_000 * 4);
    expect(buf.readUInt16LE(32)).toBe(4);
    expect(buf.readUInt16LE(34)).toBe(16);
    expect(buf.toString('ascii', 36, 40)).toBe('data');
    expect(buf.readUInt32LE(40)).toBe(40);
  });

  it('decodes float, 24-bit, extra chunks and streamed (unknown-length) files', () => {
    // float32 stereo with a LIST chunk before data and 0xFFFFFFFF data size
    const frames = [
      [0.5, -0.25],
      [-1, 1],
    ];
    const fmt = Buffer.alloc(24);
    fmt.write('fmt ', 0, 'ascii');
    fmt.writeUInt32LE(16, 4);
    fmt.writeUInt16LE(3, 8);
    fmt.writeUInt16LE(2, 10);
    fmt.writeUInt32LE(22_050, 12);
    fmt.writeUInt32LE(22_050 * 8, 16);
    fmt.writeUInt16LE(8, 20);
    fmt.writeUInt16LE(32, 22);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]);
    const dataHdr = Buffer.concat([Buffer.from('data'), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    const data = Buffer.alloc(16);
    frames.flat().forEach((v, i) => data.writeFloatLE(v, 4 * i));
    const body = Buffer.concat([Buffer.from('WAVE'), fmt, list, dataHdr, data]);
    const riff = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0xff, 0xff, 0xff, 0xff]), body]);
    const w = decodeWav(riff);
    expect(w).toMatchObject({ sampleRate: 22_050, channels: 2 });
    expect(Array.from(w.samples[0]!)).toEqual([0.5, -1]);
    expect(Array.from(w.samples[1]!)).toEqual([-0.25, 1]);

    // 24-bit mono
    const pcm24 = encodeWav(new Float32Array(0), 8000);
    pcm24.writeUInt16LE(3 * 8000, 28);
    pcm24.writeUInt16LE(3, 32);
    pcm24.writeUInt16LE(24, 34);
    const s24 = Buffer.alloc(6);
    s24.writeIntLE(4_194_304, 0, 3); // 0.5
    s24.writeIntLE(-8_388_608, 3, 3); // −1
    pcm24.writeUInt32LE(6, 40);
    const w24 = decodeWav(Buffer.concat([pcm24, s24]));
    expect(Array.from(w24.samples[0]!)).toEqual([0.5, -1]);
  });

  it('explains what is wrong with a file it cannot read', () => {
    expect(() => decodeWav(Buffer.from('hello world, not a wav'))).toThrow(/not a WAV/);
    const noData = encodeWav(new Float32Array(0), 8000).subarray(0, 36);
    expect(() => decodeWav(noData)).toThrow(/no data chunk/);
    const adpcm = encodeWav(new Float32Array(4), 8000);
    adpcm.writeUInt16LE(2, 20);
    expect(() => decodeWav(adpcm)).toThrow(/unsupported WAV encoding/);
  });
});
