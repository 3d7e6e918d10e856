/**
 * Measures how late an unpause takes effect on this output before the first start, on a file of
 * silence, so that a fresh member's first start is on time too (start-lead.ts then keeps learning
 * from every real start). Without it the first start is late by the whole restart latency of the
 * player and the output — ~12 ms on PulseAudio — and every member of a party that just joined
 * starts that late together. The same starts show an output's block grid (output-blocks.ts),
 * which needs blockMinStarts of them to agree before a start is planned on it.
 *
 * Each round: loaded paused at `probePositionSec`, unpaused at a chosen local instant X (minus the lead
 * learned so far), then the error of the best readings (shortest round trips) against
 * position(t) = probePositionSec + (t − X) feeds the StartLead, which takes the first round
 * outright and later ones by a fraction, and the OutputBlocks (when the sound began, for the
 * output's block grid). The player is stopped afterwards.
 *
 * A round whose readings all had slow round trips (a busy host: other players starting at the
 * same moment) measures nothing and is tried again, and while the starts show quantized delays
 * but no agreed grid yet, rounds go on past `probeRounds`: up to `probeMaxAttempts` rounds in all. Each
 * round begins after a random pause of up to `probeSpacingMs`, so that members started together
 * on one host do not load and read in lockstep. Before each round `mayContinue()` is asked
 * whether a start leaves time for one more.
 */
import { localMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import type { Player } from '../player.js';
import type { OutputBlocks } from './output-blocks.js';
import type { StartLead } from './start-lead.js';
import type { SyncTime } from './sync-time.js';
import type { SyncTunables } from './tunables.js';

/** A file of silence the probe may play (long enough for one round: probePositionSec + ~0.3 s). */
export interface ProbeFile {
  path: string;
  durationSec: number;
}

export interface ProbeResult {
  /** the errors measured, ms (positive: early), one per measured round */
  errors: number[];
  /** rounds begun */
  attempts: number;
  /** rounds whose readings were all too slow to time a start */
  refused: number;
  /** ended for a start (or an abort) before `probeRounds` were measured */
  cutShort: boolean;
}

type ProbeTunables = Pick<SyncTunables, 'probeRounds' | 'probeMaxAttempts' | 'probeSpacingMs' | 'probePositionSec' | 'probeReadAfterMs' | 'probeReadingGapMs' | 'probeReadingsPerRound' | 'signalGoodRttMs' | 'signalMaxRttMs'>;

export class StartProbe {
  constructor(
    private readonly t: ProbeTunables,
    private readonly time: SyncTime,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Runs rounds until `probeRounds` are measured, `probeMaxAttempts` were tried, `mayContinue()`
   * says no, or `signal` aborts.
   */
  async run(player: Player, lead: StartLead, blocks: OutputBlocks, file: ProbeFile, signal: AbortSignal, mayContinue: () => boolean = () => true): Promise<ProbeResult> {
    const t = this.t;
    const errors: number[] = [];
    let attempts = 0;
    let refused = 0;
    try {
      // Past probeRounds only while the grid is undecided (quantized delays, no agreed phase yet).
      while ((errors.length < t.probeRounds || blocks.undecided()) && attempts < t.probeMaxAttempts && !signal.aborted && mayContinue()) {
        attempts++;
        await this.time.sleep(this.random() * t.probeSpacingMs);
        if (signal.aborted) break;
        await player.setPaused(true);
        // Loaded afresh each round, as a start from silence is.
        await player.load(file.path, t.probePositionSec);
        if (signal.aborted) break;
        // X is a little ahead so that the unpause (X − lead) is still in the future.
        const x = this.time.now() + 20;
        await this.time.waitUntil(localMs(x - lead.ms), signal).catch(() => {});
        if (signal.aborted) break;
        const unpauseMs = this.time.now();
        await player.setPaused(false);
        lead.started();
        await this.time.sleep(t.probeReadAfterMs);
        const readings: { errMs: number; rttMs: number }[] = [];
        for (let i = 0; i < t.probeReadingsPerRound && readings.filter((r) => r.rttMs <= t.signalGoodRttMs).length < 3 && !signal.aborted; i++) {
          try {
            const r = await player.readPosition();
            readings.push({ errMs: (r.positionSec - t.probePositionSec) * 1000 - (r.localMs - x), rttMs: r.rttMs });
          } catch {
            /* no position yet */
          }
          await this.time.sleep(t.probeReadingGapMs);
        }
        if (signal.aborted) break;
        readings.sort((a, b) => a.rttMs - b.rttMs);
        const best = readings.slice(0, 3);
        if (best.length < 3 || best[2]!.rttMs > t.signalMaxRttMs) {
          refused++;
          this.log.debug(`start probe round ${attempts}: not timed (${readings.length} readings, third-best round trip ${best[2] ? `${best[2].rttMs.toFixed(2)} ms` : '—'})`);
          continue;
        }
        const err = best.map((r) => r.errMs).sort((a, b) => a - b)[1]!;
        errors.push(err);
        lead.observe(err);
        // Ahead by err: the first sample was heard err before X.
        blocks.observe(unpauseMs, x - err);
        this.log.debug(`start probe round ${attempts}: first sample ${(x - err - unpauseMs).toFixed(2)} ms after the unpause`);
      }
    } finally {
      await player.stop().catch(() => {});
    }
    const cutShort = (errors.length < t.probeRounds || blocks.undecided()) && attempts < t.probeMaxAttempts;
    if (errors.length) {
      const phase = blocks.phaseMs();
      const grid = phase === null ? 'no block grid' : `block grid at ${phase.toFixed(2)} ms: starts planned on it`;
      const rounds = `${errors.length} of ${attempts} rounds timed${cutShort ? ', cut short by a start' : ''}`;
      this.log.info(`output start latency: unpause ${lead.ms.toFixed(1)} ms early (probe errors ${errors.map((e) => e.toFixed(1)).join(', ')} ms; ${rounds}; ${grid})`);
    } else if (attempts) {
      this.log.info(`output start latency: not measured (${attempts} probe rounds, ${refused} with only slow readings${cutShort ? ', cut short by a start' : ''})`);
    }
    return { errors, attempts, refused, cutShort };
  }
}
