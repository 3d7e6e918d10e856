/**
 * Decoded copies of the tracks, for the meters: mono float samples to compare a recording with
 * (where the schedule says the sound should be), and raw PCM for a Snapcast server to stream.
 * Decoded by mpv itself (`--ao=pcm`, as fast as it can), so the reference is exactly what mpv
 * plays, before any speed change.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';

export interface DecodeOptions {
  sampleRate: number;
  channels: 1 | 2;
}

/** Decodes `path` to signed 16-bit little-endian interleaved PCM at `out` (no header). */
export function decodeToRaw(path: string, out: string, o: DecodeOptions): void {
  if (existsSync(out)) return;
  // into a temporary name, renamed when complete: a decode cut short (a timeout on a loaded
  // machine) must not leave a truncated reference for the next run to trust
  const part = `${out}.part`;
  const r = spawnSync(
    'mpv',
    ['--no-config', '--no-video', '--ao=pcm', `--ao-pcm-file=${part}`, '--ao-pcm-waveheader=no', '--audio-format=s16', `--audio-samplerate=${o.sampleRate}`, `--audio-channels=${o.channels === 1 ? 'mono' : 'stereo'}`, '--msg-level=all=error', '--', path],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (r.status !== 0 || !existsSync(part)) {
    rmSync(part, { force: true });
    throw new Error(`decoding ${path} failed: ${(r.stderr || String(r.error ?? `exit ${r.status ?? r.signal}`)).trim()}`);
  }
  renameSync(part, out);
}

/** The track as mono samples scaled to ±1. */
export function decodeMono(path: string, out: string, sampleRate: number): Float32Array {
  decodeToRaw(path, out, { sampleRate, channels: 1 });
  const buf = readFileSync(out);
  const n = Math.floor(buf.length / 2);
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = buf.readInt16LE(2 * i) / 32768;
  return s;
}
