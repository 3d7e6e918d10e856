/**
 * Renders a calibration test signal to a WAV file this member's mpv can play. The member renders
 * it itself from the leader's description, so no audio crosses the network; identical specs
 * reuse the same file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSweep, type SweepSpec } from '../audio/signal.js';
import { encodeWav } from '../audio/wav.js';

let folder: string | null = null;

/**
 * The file starts with `leadInSec` of silence: the player starts it that much before the sweep is
 * due and uses the silence to bring its timing onto the instant (sync/signal-playback.ts).
 */
export function signalFile(spec: SweepSpec, leadInSec = 0): { path: string; durationSec: number; leadInSec: number } {
  folder ??= mkdtempSync(join(tmpdir(), 'syncplay-signal-'));
  const lead = Math.round(Math.max(0, leadInSec) * spec.sampleRate);
  const id = createHash('sha256').update(JSON.stringify({ spec, lead })).digest('hex').slice(0, 16);
  const path = join(folder, `sweep-${id}.wav`);
  if (!existsSync(path)) {
    const sweep = renderSweep(spec);
    const samples = new Float32Array(lead + sweep.length);
    samples.set(sweep, lead);
    writeFileSync(path, encodeWav(samples, spec.sampleRate));
  }
  return { path, durationSec: lead / spec.sampleRate + spec.durationSec, leadInSec: lead / spec.sampleRate };
}
