/**
 * Every number the player sync is tuned by, with why it has its value. The sound controller's
 * own gains are in ../sound-controller.ts (DEFAULT_SOUND_CONTROLLER).
 */
export interface SyncTunables {
  // ---- following the timeline
  /** How often the sync looks at the timeline and reads the position, ms: 10 readings/s are enough for a 1 s loop time constant. */
  tickMs: number;
  /** The first reading after a start has no previous one; the controller steps as if one tick had passed, s. */
  firstReadingDtSec: number;
  /** Around a track boundary the player switches files on its own and its readings are unreliable; none are used within ±this, s. */
  boundaryGraceSec: number;
  /** After a player command fails, the sync waits this long before trying again, ms: no tight retry loop against a broken player. */
  retryAfterErrorMs: number;
  /** A new timeline that puts the playhead within this of where it already is needs no re-arm, s (half a millisecond is inaudible). */
  samePositionSec: number;
  /** A paused player within this of the paused position is left alone, s. */
  pausedPositionSec: number;

  /**
   * Readings taken back to back per tick; the one with the shortest round trip is used (its timestamp is the least uncertain).
   * Six, not three: on loopback the reading noise fell from 0.105–0.134 to 0.041–0.089 ms and the recorded spread p95 from
   * 0.139–0.277 to 0.073–0.115 ms (three interleaved pairs); each costs one ~0.5 ms IPC round trip, 60 a second.
   */
  readingsPerTick: number;

  // ---- the reading gate (readings with slow round trips have uncertain timestamps)
  /** Round trips remembered for the gate's median. */
  gateWindow: number;
  /** The gate follows this multiple of the recent median round trip… */
  gateMedianFactor: number;
  /** …but never below this, ms (a quiet machine's round trips are ~0.3 ms)… */
  gateMinMs: number;
  /** …nor above this, ms: a reading 4 ms uncertain would mislead a controller aiming at 0.1 ms. */
  gateMaxMs: number;

  // ---- arming a start (loaded, paused and seeked before the instant)
  /** Least time allowed to arm before an instant when something is audible, ms. */
  prepareMs: number;
  /** Arms that were slow raise the preparation time to this multiple of the slowest recent one… */
  slowArmFactor: number;
  /** …plus this margin, ms. */
  slowArmMarginMs: number;
  /** Recent arm durations remembered. */
  armWindow: number;
  /** An arm that leaves less than this before the unpause is moved to a later instant, ms (the precise wait needs a few ms). */
  minSpareMs: number;
  /** At most this many later instants are tried before starting anyway. */
  maxLaterStarts: number;

  // ---- learning the start lead (how early to unpause so that the first sample leaves on time)
  /** Only a first reading within this of the timeline teaches the lead, ms: larger ones are a different fault (a hard seek follows). */
  leadMaxErrorMs: number;
  /** The lead never exceeds this, ms: the player's restart latency is a few ms to tens of ms. */
  leadMaxMs: number;
  /** Later starts move the lead by this fraction of their error (the first sets it outright), so one noisy start does not throw it off. */
  leadGain: number;

  // ---- probing the start latency before the first start (start-probe.ts)
  /** Rounds of unpause-and-measure on silence to be timed (the first sets the lead, later ones refine it; eight give the block grid's delay estimate eight random phases). */
  probeRounds: number;
  /** Rounds begun at most: a round whose readings were all slow is tried again, but a probe on a starved host still ends (~14 × 0.25 s). */
  probeMaxAttempts: number;
  /** Each round begins after a random pause of up to this, ms: members started together on one host would otherwise load and read in lockstep. */
  probeSpacingMs: number;
  /** Time one round may take, ms (load, unpause, readings; ~0.15–0.3 s measured): no round begins unless a start leaves this plus the arming time. */
  probeRoundMs: number;
  /** Position in the silent file each round starts from, s (past any decoder start-up). */
  probePositionSec: number;
  /** First reading this long after the unpause, ms (the output reports a position once it runs). */
  probeReadAfterMs: number;
  /** Pause between readings, ms. */
  probeReadingGapMs: number;
  /** Readings tried per round for three good ones. */
  probeReadingsPerRound: number;

  // ---- starting on the output's block grid (output-blocks.ts)
  /** The block a grid-driven output mixes at a time, ms (PulseAudio's null/remap sinks: 10 ms at their default latency). */
  outputBlockMs: number;
  /** Onsets within this of one phase are on one grid, ms (reading noise ~0.2 ms; members of one room agreed within 0.1 ms). */
  blockToleranceMs: number;
  /** …and their delays (onset − unpause) must differ by at least this, ms: the sign of quantization (a gridless output's delay is nearly constant). */
  blockMinDelayRangeMs: number;
  /** A planned start up to this much faster than its estimated delay is still caught by its edge, ms; the rest of the block (7 ms) is left for late-sided jitter (late timers, starts slowed by a busy host). */
  blockEarlyToleranceMs: number;
  /** Starts remembered for the grid and the send-to-output delay (recent ones: a device clock's grid moves slowly). */
  blockWindow: number;
  /** Starts that must agree before one is planned on the grid (four random phases agree within ±1 ms by chance < 1 % of the time). */
  blockMinStarts: number;

  // ---- pre-rolled starts: silence before a track's start, aligned during it (start-arming.ts)
  /** Longest silence played before a start, ms: three slews fit (a whole block off is ~2 ms off after the first, ~0.3 after the second); longer only opens the output sooner. */
  prerollMaxMs: number;
  /** Shortest silence worth it, ms: the first reading (~lead + 60 ms), one shortest slew and its settling must fit before the sound. */
  prerollMinMs: number;
  /** Wait after the first sample is due before the first readings, ms (the output reports a position once it runs). */
  prerollFirstReadMs: number;
  /** Audio made at the old speed plays out in this long, ms (the player's ~0.2 s buffer plus the output's latency, and a margin): a slew must end this long before the sound. */
  prerollSettleMs: number;
  /** Shortest slew, ms (the player applies a speed in chunks of its buffer). */
  prerollMinSlewMs: number;
  /** Speed deviation of a slew, fraction: nothing is heard, so a whole block's error (10 ms) goes in the shortest slew. */
  prerollDeviation: number;
  /** Speed deviation when time is short, fraction. */
  prerollFastDeviation: number;
  /**
   * An error below this is left to the sound controller, ms. 0.05 was tried: in 13 interleaved pairs of `--scenario
   * start` runs the first-second spread was ≤ 0.25 ms in 12 against 7, but the 8–68 s p95 was higher in 10 of 13
   * pairs (medians 0.141 / 0.109 ms), so 0.15 stays until that is understood.
   */
  prerollToleranceMs: number;
  /** Alignment rounds at most. */
  prerollRounds: number;
  /** A start aligned to within this needs no start transient from the sound controller, ms (its last error was measured after its last slew). */
  prerollAlignedMs: number;

  // ---- the calibration signal (timing aligned during its silent lead-in)
  /** Audio already buffered at the old speed plays out in this long before a reading shows the change, ms. */
  signalSettleMs: number;
  /** Shortest speed change, ms: shorter ones are lost in the output's buffering. */
  signalMinSlewMs: number;
  /** Speed deviation used when there is time, fraction (silence, so nothing is heard). */
  signalDeviation: number;
  /** Speed deviation for a start that was far off and little time is left, fraction. */
  signalFastDeviation: number;
  /** An error below this needs no correction, ms. */
  signalToleranceMs: number;
  /** The three best readings must all have round trips under this, ms. */
  signalMaxRttMs: number;
  /** A reading with a round trip under this counts as a good one, ms. */
  signalGoodRttMs: number;
  /** Readings tried per round for three good ones. */
  signalReadingsPerRound: number;
  /** Pause between readings, ms. */
  signalReadingGapMs: number;
  /** Measure-and-correct rounds at most. */
  signalRounds: number;
  /** Margin kept before the sweep when slewing, ms. */
  signalMarginMs: number;
  /** How long past the file's length its end may come, ms. */
  signalEndGraceMs: number;
}

export const DEFAULT_SYNC_TUNABLES: Readonly<SyncTunables> = Object.freeze({
  tickMs: 100,
  firstReadingDtSec: 0.1,
  boundaryGraceSec: 0.6,
  retryAfterErrorMs: 1000,
  samePositionSec: 0.0005,
  pausedPositionSec: 0.001,

  readingsPerTick: 6,

  gateWindow: 50,
  gateMedianFactor: 2.5,
  gateMinMs: 1,
  gateMaxMs: 4,

  prepareMs: 250,
  slowArmFactor: 1.5,
  slowArmMarginMs: 50,
  armWindow: 8,
  minSpareMs: 5,
  maxLaterStarts: 2,

  leadMaxErrorMs: 30,
  leadMaxMs: 50,
  leadGain: 0.5,

  probeRounds: 8,
  probeMaxAttempts: 14,
  probeSpacingMs: 40,
  probeRoundMs: 400,
  probePositionSec: 0.1,
  probeReadAfterMs: 40,
  probeReadingGapMs: 5,
  probeReadingsPerRound: 12,

  outputBlockMs: 10,
  blockToleranceMs: 1,
  blockMinDelayRangeMs: 3,
  blockEarlyToleranceMs: 3,
  blockWindow: 8,
  blockMinStarts: 4,

  prerollMaxMs: 2000,
  prerollMinMs: 650,
  prerollFirstReadMs: 60,
  prerollSettleMs: 350,
  prerollMinSlewMs: 100,
  prerollDeviation: 0.1,
  prerollFastDeviation: 0.3,
  prerollToleranceMs: 0.15,
  prerollRounds: 4,
  prerollAlignedMs: 0.3,

  signalSettleMs: 450,
  signalMinSlewMs: 300,
  signalDeviation: 0.1,
  signalFastDeviation: 0.9,
  signalToleranceMs: 0.05,
  signalMaxRttMs: 3,
  signalGoodRttMs: 0.5,
  signalReadingsPerRound: 12,
  signalReadingGapMs: 10,
  signalRounds: 6,
  signalMarginMs: 100,
  signalEndGraceMs: 5000,
});
