/**
 * Minimal WAV (RIFF) encoding and decoding for the calibration test signal and recordings.
 *
 * encodeWav writes 16-bit PCM or 32-bit IEEE float. decodeWav reads PCM 8/16/24/32-bit and IEEE float 32/64-bit,
 * including WAVE_FORMAT_EXTENSIBLE headers, skips unknown chunks, and tolerates the bogus sizes
 * (0 or 0xFFFFFFFF) that tools writing a WAV to a pipe leave in the header.
 */

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Float sample in [−1, 1] → 16-bit integer (clamped, rounded to nearest). */
function toInt16(v: number): number {
  if (!(v === v)) return 0; // NaN
  const s = Math.round(v * 32768);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

/** Float sample → a 32-bit float sample in [−1, 1] (clamped; NaN as 0), the same bounds as toInt16. */
function toUnitFloat(v: number): number {
  if (!(v === v)) return 0; // NaN
  return v > 1 ? 1 : v < -1 ? -1 : v;
}

/**
 * Encode samples as a 16-bit PCM WAV file (or 32-bit IEEE float with `{ float32: true }`).
 *
 * - `samples` a Float32Array: mono audio; with `channels` 2 the same signal is written to both
 *   channels (`encodeWav(renderSweep(spec), rate, 2)` gives a stereo file of the sweep).
 * - `samples` an array of Float32Arrays: one per channel (1 or 2, equal lengths); `channels`, if
 *   given, must match.
 * Values are full scale at ±1 and clamped outside it.
 */
export function encodeWav(
  samples: Float32Array | readonly Float32Array[],
  sampleRate: number,
  channels?: 1 | 2,
  options: { float32?: boolean } = {},
): Buffer {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0x7fffffff)
    throw new RangeError(`WAV sample rate must be a positive integer, got ${sampleRate}`);
  let chans: Float32Array[];
  if (samples instanceof Float32Array) {
    const c = channels ?? 1;
    if (c !== 1 && c !== 2) throw new RangeError(`WAV channels must be 1 or 2, got ${String(c)}`);
    chans = c === 1 ? [samples] : [samples, samples];
  } else {
    chans = [...samples];
    if (chans.length !== 1 && chans.length !== 2)
      throw new RangeError(`encodeWav takes 1 or 2 channels, got ${chans.length}`);
    if (channels !== undefined && channels !== chans.length)
      throw new RangeError(`encodeWav: channels = ${channels} but ${chans.length} channel arrays given`);
    if (chans.some((c) => c.length !== chans[0]!.length))
      throw new RangeError('encodeWav: channel arrays differ in length');
  }
  const nch = chans.length;
  const frames = chans[0]!.length;
  const bytes = options.float32 ? 4 : 2;
  const dataBytes = frames * nch * bytes;
  if (dataBytes > 0xffffffff - 36) throw new RangeError('encodeWav: too long for a WAV file');
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(options.float32 ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM, 20);
  buf.writeUInt16LE(nch, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * nch * bytes, 28); // byte rate
  buf.writeUInt16LE(nch * bytes, 32); // block align
  buf.writeUInt16LE(bytes * 8, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  let off = 44;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nch; c++) {
      const v = chans[c]![i]!;
      if (options.float32) buf.writeFloatLE(toUnitFloat(v), off);
      else buf.writeInt16LE(toInt16(v), off);
      off += bytes;
    }
  }
  return buf;
}

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  /** One Float32Array per channel, full scale ±1. */
  samples: Float32Array[];
}

/** Decode a WAV file (see the module comment for the formats read). Throws an Error saying why not. */
export function decodeWav(buf: Buffer): DecodedWav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error('not a WAV file (no RIFF/WAVE header)');
  let pos = 12;
  let fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | null =
    null;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    let size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new Error('WAV fmt chunk is truncated');
      let format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      const sampleRate = buf.readUInt32LE(body + 4);
      const blockAlign = buf.readUInt16LE(body + 12);
      const bits = buf.readUInt16LE(body + 14);
      if (format === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40 || body + 26 > buf.length) throw new Error('WAV extensible fmt chunk is truncated');
        format = buf.readUInt16LE(body + 24); // first two bytes of the sub-format GUID
      }
      fmt = { format, channels, sampleRate, blockAlign, bits };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk comes before the fmt chunk');
      // Streamed WAVs (written to a pipe) carry 0 or 0xFFFFFFFF here: read to the end of the file.
      if (size === 0 || size === 0xffffffff || body + size > buf.length) size = buf.length - body;
      return decodeData(buf.subarray(body, body + size), fmt);
    }
    pos = body + size + (size & 1); // chunks are padded to an even length
  }
  throw new Error(fmt ? 'WAV file has no data chunk' : 'WAV file has no fmt chunk');
}

function decodeData(
  data: Buffer,
  fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number },
): DecodedWav {
  const { format, channels, sampleRate, bits } = fmt;
  if (channels < 1 || channels > 64) throw new Error(`WAV file has an invalid channel count (${channels})`);
  if (sampleRate < 1) throw new Error('WAV file has an invalid sample rate (0)');
  const bytes = bits / 8;
  const supported =
    (format === WAVE_FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32)) ||
    (format === WAVE_FORMAT_IEEE_FLOAT && (bits === 32 || bits === 64));
  if (!supported) throw new Error(`unsupported WAV encoding (format ${format}, ${bits} bits per sample)`);
  const block = fmt.blockAlign >= bytes * channels ? fmt.blockAlign : bytes * channels;
  const frames = Math.floor(data.length / block);
  const out: Float32Array[] = [];
  for (let c = 0; c < channels; c++) out.push(new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      const o = i * block + c * bytes;
      let v: number;
      if (format === WAVE_FORMAT_IEEE_FLOAT) v = bits === 32 ? data.readFloatLE(o) : data.readDoubleLE(o);
      else if (bits === 16) v = data.readInt16LE(o) / 32768;
      else if (bits === 24) v = data.readIntLE(o, 3) / 8388608;
      else if (bits === 32) v = data.readInt32LE(o) / 2147483648;
      else v = (data.readUInt8(o) - 128) / 128;
      out[c]![i] = v;
    }
  }
  return { sampleRate, channels, samples: out };
}
