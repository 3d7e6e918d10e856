/**
 * `syncplay calibrate --self`: this device alone, no leader. It plays the sweep through a local
 * mpv — the same player path as music (MpvProcess with the member's options, the given
 * --audio-device and --mpv-arg) — at a precise local instant while recording, and reports:
 *
 * - round trip: from the instant the sweep was due to start (this machine's monotonic clock) to
 *   the instant the microphone captured its start (the recording placed on the same clock by
 *   Capture.localMsAtSample). It holds mpv's start-up, the output latency, the sound's flight and
 *   the input latency. The capture timing can only be *late* (capture.ts), so the true round trip
 *   lies in [roundTrip − uncertainty, roundTrip].
 * - what mpv accounts for: where mpv's own `audio-pts` (written position minus the delay the
 *   audio device reports) puts the sweep's first sample. Sync already aligns that instant, so
 * - beyond mpv = heard − mpv's instant: the output latency the device does not report (a TV's or
 *   amplifier's own processing, Bluetooth) plus the flight time and the input latency. With a
 *   microphone of negligible input latency next to the speaker this is what the member's
 *   --latency-offset should be (relative to the other members, calibrate with a leader measures
 *   exactly that without needing the input latency).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicMs } from '../clock/monotonic.js';
import { waitUntilLocal } from '../clock/precise-wait.js';
import { MpvPlayer, MpvProcess } from '../member/mpv/index.js';
import type { Player } from '../member/player.js';
import { Capture, type CaptureTool } from './capture.js';
import { findArrival } from './correlate.js';
import { DEFAULT_SWEEP, renderSweep, type SweepSpec } from '../audio/signal.js';
import { encodeWav } from '../audio/wav.js';
import { median } from '../math/median.js';

export interface SelfTestOptions {
  tool: CaptureTool;
  input?: string;
  audioDevice?: string;
  mpvArgs: string[];
  mpvPath?: string;
  minConfidence?: number;
  /** how far after the due instant the sweep may be heard, ms (default 1000: Bluetooth) */
  maxRoundTripMs?: number;
  log?: (m: string) => void;
  sweep?: SweepSpec;
  /** capture options for tests (e.g. PULSE_SERVER) */
  env?: NodeJS.ProcessEnv;
}

export interface SelfTestResult {
  ok: boolean;
  reason?: string;
  captureTool: CaptureTool;
  input: string | null;
  audioDevice: string | null;
  /** due → heard, ms (upper end of [roundTripMs − uncertaintyMs, roundTripMs]); null if not heard */
  roundTripMs: number | null;
  /** one-sided uncertainty of the capture timing, ms */
  uncertaintyMs: number | null;
  /** due → where mpv's audio-pts puts the sweep's first sample leaving the device, ms */
  mpvAccountedMs: number | null;
  /** heard − mpv's instant: latency mpv does not see, plus flight and input latency, ms */
  beyondMpvMs: number | null;
  confidenceDb: number | null;
  snrDb: number | null;
  /** mpv's audio-pts readings used (with an IPC round trip under 1 ms) */
  ptsReadings: number;
}

/** Silence before the sweep in the file mpv plays: mpv's start-up settles before the sweep begins. */
const LEAD_IN_SEC = 0.5;
const TAIL_SEC = 0.3;
/** mpv member options that matter for timing (as member.ts). */
const MEMBER_MPV_ARGS = ['--hr-seek=yes', '--audio-display=no'];

export async function runSelfTest(o: SelfTestOptions): Promise<SelfTestResult> {
  const say = o.log ?? (() => {});
  const spec = o.sweep ?? DEFAULT_SWEEP;
  const rate = spec.sampleRate;
  const sweep = renderSweep(spec);
  const dir = mkdtempSync(join(tmpdir(), 'syncplay-selftest-'));
  const file = join(dir, 'sweep.wav');
  const samples = new Float32Array(Math.round((LEAD_IN_SEC + TAIL_SEC) * rate) + sweep.length);
  samples.set(sweep, Math.round(LEAD_IN_SEC * rate));
  writeFileSync(file, encodeWav(samples, rate, 2));
  const leadInMs = (Math.round(LEAD_IN_SEC * rate) / rate) * 1000;
  const base = {
    captureTool: o.tool,
    input: o.input ?? null,
    audioDevice: o.audioDevice ?? null,
  };
  const mpv = new MpvProcess({
    ...(o.mpvPath ? { mpvPath: o.mpvPath } : {}),
    ...(o.audioDevice ? { audioDevice: o.audioDevice } : {}),
    extraArgs: [...MEMBER_MPV_ARGS, ...o.mpvArgs],
  });
  const capture = new Capture({ tool: o.tool, sampleRate: rate, ...(o.input ? { input: o.input } : {}), ...(o.env ? { env: o.env } : {}) });
  let captureRunning = false;
  try {
    let player: Player;
    try {
      player = new MpvPlayer(await mpv.start());
    } catch (e) {
      throw new Error(`cannot start mpv: ${(e as Error).message}`);
    }
    await player.setPaused(true);
    await player.load(file);
    try {
      await capture.start();
    } catch (e) {
      throw new Error(`cannot record${o.input ? ` from ${o.input}` : ''} with ${o.tool}: ${(e as Error).message}`);
    }
    captureRunning = true;
    say(`recording with ${o.tool}${o.input ? ` from ${o.input}` : ''}; playing the sweep through mpv${o.audioDevice ? ` on ${o.audioDevice}` : ''}`);
    // Let the recording run a moment (its timing estimate needs chunks; a sink wakes up).
    await new Promise((r) => setTimeout(r, 700));
    const startLocal = monotonicMs() + 300;
    await waitUntilLocal(startLocal);
    await player.setPaused(false);
    const dueLocal = startLocal + leadInMs;
    // mpv's own view: local time minus audio-pts is when position 0 leaves the device, per mpv.
    const zeros: number[] = [];
    const endLocal = dueLocal + spec.durationSec * 1000;
    while (monotonicMs() < endLocal) {
      try {
        const r = await player.readPosition();
        if (r.rttMs < 1) zeros.push(r.localMs - r.positionSec * 1000);
      } catch {
        /* not playing yet */
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const maxRt = o.maxRoundTripMs ?? 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, dueLocal + spec.durationSec * 1000 + maxRt + 300 - monotonicMs())));
    const recording = await capture.stop();
    captureRunning = false;
    const t0 = capture.localMsAtSample(0)!;
    const msPerSample = capture.localMsAtSample(1)! - t0;
    const dueSample = (dueLocal - t0) / msPerSample;
    const a = findArrival(recording, sweep, rate, {
      searchFromSample: dueSample - 0.05 * rate,
      searchToSample: dueSample + (maxRt / 1000) * rate,
      ...(o.minConfidence !== undefined ? { minConfidence: o.minConfidence } : {}),
    });
    const mpvAt = zeros.length >= 3 ? median(zeros) + leadInMs : null;
    const heardLocal = t0 + a.delaySamples * msPerSample;
    const round = (v: number) => Math.round(v * 1000) / 1000;
    return {
      ...base,
      ok: a.ok,
      ...(a.ok ? {} : { reason: a.reason ?? 'the sweep was not found' }),
      roundTripMs: a.ok ? round(heardLocal - dueLocal) : null,
      uncertaintyMs: capture.firstSampleUncertaintyMs === null ? null : round(capture.firstSampleUncertaintyMs),
      mpvAccountedMs: mpvAt === null ? null : round(mpvAt - dueLocal),
      beyondMpvMs: a.ok && mpvAt !== null ? round(heardLocal - mpvAt) : null,
      confidenceDb: Number.isFinite(a.confidence) ? round(a.confidence) : null,
      snrDb: Number.isFinite(a.snrDb) ? round(a.snrDb) : null,
      ptsReadings: zeros.length,
    };
  } finally {
    if (captureRunning) await capture.stop().catch(() => {});
    await mpv.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatSelfTest(r: SelfTestResult): string {
  const ms = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)} ms`);
  if (!r.ok) return `The sweep could not be measured: ${r.reason ?? 'unknown reason'}`;
  const lines = [
    `round trip (due → heard):      ${ms(r.roundTripMs)}  (true value between ${ms(r.roundTripMs! - (r.uncertaintyMs ?? 0))} and ${ms(r.roundTripMs)}: the capture timing can only be late)`,
    `accounted for by mpv:          ${ms(r.mpvAccountedMs)}  (start-up and the latency the audio device reports; sync already handles it)`,
    `beyond what mpv sees:          ${ms(r.beyondMpvMs)}  (unreported output latency + flight + microphone input latency)`,
    `confidence:                    ${r.confidenceDb?.toFixed(1) ?? '—'} dB${r.snrDb !== null ? ` (SNR ${r.snrDb.toFixed(1)} dB)` : ''}`,
  ];
  return lines.join('\n');
}
