/**
 * Renders a calibration test signal to a WAV file this member's mpv can play. The member renders
 * it itself from the leader's description, so no audio crosses the network; identical specs
 * reuse the same file. Only the newest KEEP_FILES files are kept (one may still be playing), and
 * the folder is removed when the process exits: calibrating again and again uses no more disk.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSweep, type SweepSpec } from '../audio/signal.js';
import { encodeWav } from '../audio/wav.js';

/** the file being played and the one before it */
const KEEP_FILES = 2;
let folder: string | null = null;
/** files written, oldest first */
const written: string[] = [];

function ensureFolder(): string {
  if (folder) return folder;
  const dir = mkdtempSync(join(tmpdir(), 'syncplay-signal-'));
  folder = dir;
  process.once('exit', () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });
  return dir;
}

/**
 * The file starts with `leadInSec` of silence: the player starts it that much before the sweep is
 * due and uses the silence to bring its timing onto the instant (sync/signal-playback.ts).
 */
export function signalFile(spec: SweepSpec, leadInSec = 0): { path: string; durationSec: number; leadInSec: number } {
  const dir = ensureFolder();
  const lead = Math.round(Math.max(0, leadInSec) * spec.sampleRate);
  const id = createHash('sha256').update(JSON.stringify({ spec, lead })).digest('hex').slice(0, 16);
  const path = join(dir, `sweep-${id}.wav`);
  if (!existsSync(path)) {
    const sweep = renderSweep(spec);
    const samples = new Float32Array(lead + sweep.length);
    samples.set(sweep, lead);
    writeFileSync(path, encodeWav(samples, spec.sampleRate));
  }
  const i = written.indexOf(path);
  if (i >= 0) written.splice(i, 1);
  written.push(path);
  while (written.length > KEEP_FILES) {
    try {
      unlinkSync(written.shift()!);
    } catch {
      /* already gone */
    }
  }
  return { path, durationSec: lead / spec.sampleRate + spec.durationSec, leadInSec: lead / spec.sampleRate };
}

/**
 * A WAV of `seconds` of silence (for measuring the output's start latency: sync/start-probe.ts),
 * kept in the same folder for the life of the process.
 */
export function silenceFile(seconds = 1, sampleRate = 44_100): { path: string; durationSec: number } {
  const path = join(ensureFolder(), `silence-${sampleRate}-${seconds}.wav`);
  if (!existsSync(path)) writeFileSync(path, encodeWav(new Float32Array(Math.round(seconds * sampleRate)), sampleRate, 2));
  return { path, durationSec: seconds };
}

/**
 * A WAV of `seconds` of 32-bit float stereo silence, to play before a track's start (a pre-rolled
 * start: sync/start-arming.ts). Float, like the decoded music: the player keeps the output format
 * of the first audio it plays after a stop, and music after 16-bit silence would be cut to 16 bits.
 */
export function floatSilenceFile(seconds: number, sampleRate = 44_100): { path: string; durationSec: number } {
  const path = join(ensureFolder(), `silence-float-${sampleRate}-${seconds}.wav`);
  if (!existsSync(path)) writeFileSync(path, encodeWav(new Float32Array(Math.round(seconds * sampleRate)), sampleRate, 2, { float32: true }));
  return { path, durationSec: seconds };
}
