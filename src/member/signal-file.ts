/**
 * Renders a calibration test signal to a WAV file this member's mpv can play. The member renders
 * it itself from the leader's description, so no audio crosses the network; identical specs
 * reuse the same file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSweep, type SweepSpec } from '../calibrate/signal.js';
import { encodeWav } from '../calibrate/wav.js';

let folder: string | null = null;

export function signalFile(spec: SweepSpec): { path: string; durationSec: number } {
  folder ??= mkdtempSync(join(tmpdir(), 'syncplay-signal-'));
  const id = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  const path = join(folder, `sweep-${id}.wav`);
  if (!existsSync(path)) writeFileSync(path, encodeWav(renderSweep(spec), spec.sampleRate));
  return { path, durationSec: spec.durationSec };
}
