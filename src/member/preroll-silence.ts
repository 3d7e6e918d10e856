/**
 * The silence a pre-rolled start plays before a track (sync/start-arming.ts), in the track's own
 * sample rate. The player keeps the output format of the first audio it plays after a stop
 * (`--gapless-audio=yes`), so silence at another rate would have the track — and every track
 * after it — resampled. The rate is read from the file's header (music-metadata, loaded on first
 * use); a file whose rate cannot be read gets the CD rate.
 */
import type { ProbeFile } from './sync/start-probe.js';
import { floatSilenceFile } from './signal-file.js';

/** Seconds of silence written: the longest pre-roll (tunables.ts prerollMaxMs) and a margin. */
const SILENCE_SEC = 2.5;
const FALLBACK_RATE = 44_100;

/** Files' rates remembered (a start's arming must not wait for a header it has read before), at most this many. */
const RATES_KEPT = 1000;

let musicMetadata: Promise<typeof import('music-metadata')> | null = null;
const rates = new Map<string, number>();

/** Loads the header reader now (~0.1 s), so that the first start does not spend its time on it. */
export function warmUpPrerollSilence(): void {
  (musicMetadata ??= import('music-metadata')).catch(() => {});
}

/** Silence for a start of the file at `path`. */
export async function prerollSilenceFor(path: string): Promise<ProbeFile> {
  let rate = rates.get(path);
  if (rate === undefined) {
    rate = FALLBACK_RATE;
    try {
      const mm = await (musicMetadata ??= import('music-metadata'));
      const parsed = await mm.parseFile(path, { duration: false, skipCovers: true });
      const r = parsed.format.sampleRate;
      if (r !== undefined && Number.isInteger(r) && r >= 8000 && r <= 384_000) rate = r;
    } catch {
      /* unreadable header: the CD rate */
    }
    if (rates.size >= RATES_KEPT) rates.delete(rates.keys().next().value!);
    rates.set(path, rate);
  }
  return floatSilenceFile(SILENCE_SEC, rate);
}
