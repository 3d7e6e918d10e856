/**
 * Calibration math: from each member's measured arrival to its new latency offset.
 *
 * What is measured. Member i is asked to start the sweep at shared instant T_i. Like music, it
 * starts L_i ms early (L_i = its latency offset in force), and its sound then takes h_i ms more
 * than its player can see (a TV's or amplifier's own processing, a Bluetooth link, the distance to
 * the microphone: ~2.9 ms per metre). The microphone records it c ms later (the capture path, the
 * same for everybody). With T_i mapped into the one continuous recording, the measured arrival is
 *   a_i = (where the sweep starts in the recording) − (where T_i is in the recording)
 *       = h_i − L_i + c.
 * Only differences between members matter: c cancels, and so does any error in placing the
 * recording on the local clock (one mapping serves every member).
 *
 * New offsets. The members line up when h_i − L'_i is the same for all, i.e.
 *   L'_i = L_i + (a_i − r)
 * for any reference r. We take r = the EARLIEST arrival among the members measured: that member
 * keeps its offset and every other one gets a change ≥ 0, i.e. starts *earlier* by the time its
 * sound is late. Nobody is asked to play later than now, so what the quickest speaker plays does
 * not move, and no member is pushed behind the instant the leader announced (a negative change
 * would make the fastest member wait for the slowest).
 *
 * Trust. A measurement the estimator refused (not heard, two comparable peaks, too noisy, …) is
 * never applied, and it does not take part in the choice of the reference; the members measured
 * are aligned among themselves and the others keep their offsets.
 */

/** One member's measurement, as the command collects it. */
export interface MemberMeasurement {
  member: string;
  /**
   * The latency offset in force on the member while it played the sweep, ms (its effective
   * offset: the leader's stored setting, or else the member's own --latency-offset); null when
   * unknown (no status from the member yet).
   */
  currentOffsetMs: number | null;
  /** Measured arrival a_i, ms (see the module comment); NaN when not measured. */
  arrivalMs: number;
  /** Correlation peak over the noise, dB (NaN when not measured). */
  confidenceDb: number;
  /** false: the measurement cannot be trusted (see reason). */
  ok: boolean;
  /** Why it was not measured or cannot be trusted, in words a user can act on. */
  reason?: string;
}

export type PlanStatus = 'apply' | 'measured' | 'refused';

export interface PlannedOffset {
  member: string;
  /**
   * 'apply': trusted and the new offset is to be stored; 'measured': trusted but not to be applied
   * (dry run); 'refused': not measured or not trusted, the offset stays.
   */
  status: PlanStatus;
  /** a_i − r: how much later than the earliest member this member's sound arrives now, ms (NaN if refused). */
  relativeArrivalMs: number;
  confidenceDb: number;
  currentOffsetMs: number | null;
  /** L_i + (a_i − r), ms (null if refused). */
  newOffsetMs: number | null;
  /** newOffsetMs − currentOffsetMs, ms (null if refused). */
  changeMs: number | null;
  /** true for the member whose arrival is the reference. */
  reference: boolean;
  reason?: string;
}

export interface OffsetPlan {
  /** The reference member (earliest trusted arrival), null when nobody was measured. */
  reference: string | null;
  /** Its arrival a_r, ms (NaN when nobody was measured). */
  referenceArrivalMs: number;
  entries: PlannedOffset[];
  /** Every member measured and trusted. */
  allMeasured: boolean;
}

export interface PlanOptions {
  /** Measure only: mark trusted members 'measured' instead of 'apply'. */
  dryRun?: boolean;
  /** Offsets are stored rounded to this many ms (default 0.001). */
  resolutionMs?: number;
  /** The leader accepts offsets within ±this (default 10 000 ms). */
  maxOffsetMs?: number;
}

function roundTo(v: number, step: number): number {
  const r = Math.round(v / step) * step;
  // Avoid -0 and binary noise such as 12.300000000000001 in reports and stored settings.
  return Number((r === 0 ? 0 : r).toFixed(Math.max(0, Math.ceil(-Math.log10(step)))));
}

/** The new offsets for the measured members (see the module comment). Pure: applies nothing. */
export function planOffsets(measurements: readonly MemberMeasurement[], opts: PlanOptions = {}): OffsetPlan {
  const step = opts.resolutionMs ?? 0.001;
  const maxOffset = opts.maxOffsetMs ?? 10_000;
  const trusted = (m: MemberMeasurement) => m.ok && Number.isFinite(m.arrivalMs) && m.currentOffsetMs !== null && Number.isFinite(m.currentOffsetMs);
  let ref: MemberMeasurement | null = null;
  for (const m of measurements) if (trusted(m) && (ref === null || m.arrivalMs < ref.arrivalMs)) ref = m;
  const r = ref ? ref.arrivalMs : NaN;
  const entries = measurements.map((m): PlannedOffset => {
    const base = { member: m.member, confidenceDb: m.confidenceDb, currentOffsetMs: m.currentOffsetMs, reference: false };
    if (!trusted(m)) {
      const reason =
        m.reason ??
        (m.ok && m.currentOffsetMs === null
          ? 'its current latency offset is unknown (no status from it yet): run calibrate again in a few seconds'
          : 'not measured');
      return { ...base, status: 'refused', relativeArrivalMs: m.ok ? m.arrivalMs - r : NaN, newOffsetMs: null, changeMs: null, reason };
    }
    const current = m.currentOffsetMs!;
    const relative = m.arrivalMs - r;
    const next = roundTo(current + relative, step);
    if (Math.abs(next) > maxOffset) {
      return {
        ...base,
        status: 'refused',
        relativeArrivalMs: relative,
        newOffsetMs: null,
        changeMs: null,
        reason: `its sound arrives ${relative.toFixed(1)} ms after the earliest member's: the offset it needs (${next.toFixed(1)} ms) is beyond ±${maxOffset} ms`,
      };
    }
    return {
      ...base,
      status: opts.dryRun ? 'measured' : 'apply',
      relativeArrivalMs: relative,
      newOffsetMs: next,
      changeMs: roundTo(next - current, step),
      reference: m === ref,
    };
  });
  return { reference: ref?.member ?? null, referenceArrivalMs: r, entries, allMeasured: entries.every((e) => e.status !== 'refused') };
}

/** Spacing between consecutive sweeps: the sweep, plus room for ±window of unknown latency and quiet. */
export function sweepSpacingMs(sweepMs: number, windowMs: number): number {
  return sweepMs + Math.max(1000, 2 * windowMs + 400);
}

export interface ScheduledSweep {
  /** index into the member list */
  member: number;
  /** 0-based repetition */
  round: number;
  /** shared instant the sweep is due */
  atMs: number;
}

/**
 * When each sweep is due: the members one after the other, `spacingMs` apart, `rounds` times over.
 * A member plays one signal at a time (a new request replaces the one it holds), so one member's
 * consecutive sweeps are at least `minPeriodMs` apart (its request lead plus its sweep and some
 * slack): with few members the rounds are spread out.
 */
export function scheduleSweeps(members: number, rounds: number, firstAtMs: number, spacingMs: number, minPeriodMs: number): ScheduledSweep[] {
  const period = Math.max(members * spacingMs, minPeriodMs);
  const out: ScheduledSweep[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let member = 0; member < members; member++) out.push({ member, round, atMs: firstAtMs + round * period + member * spacingMs });
  }
  return out;
}

/** One sweep's result for one member. */
export interface SweepArrival {
  ok: boolean;
  arrivalMs: number;
  confidenceDb: number;
  reason?: string;
  /** the estimator's refusal class (correlate.ts ArrivalRefusal), when refused */
  refusal?: string;
}

/**
 * Combines a member's repeated sweeps into one measurement: the median arrival of the trusted
 * ones. With repeats it also checks that they agree: sweeps spread over more than
 * `maxSpreadMs` mean the member's timing is not steady (a busy device, a glitching output), and
 * with more than one sweep asked for, at least two must be trusted.
 */
export function combineSweeps(sweeps: readonly SweepArrival[], maxSpreadMs = 2): { ok: boolean; arrivalMs: number; confidenceDb: number; spreadMs: number; reason?: string } {
  const good = sweeps.filter((s) => s.ok && Number.isFinite(s.arrivalMs));
  const confidenceDb = good.length ? Math.min(...good.map((s) => s.confidenceDb)) : sweeps.length ? Math.max(...sweeps.map((s) => (Number.isFinite(s.confidenceDb) ? s.confidenceDb : -Infinity))) : NaN;
  const firstReason = sweeps.find((s) => !s.ok)?.reason ?? 'not measured';
  const needed = sweeps.length === 1 ? 1 : 2;
  if (good.length < needed) {
    const lead = sweeps.length === 1 ? '' : `${sweeps.length - good.length} of ${sweeps.length} sweeps failed: `;
    return { ok: false, arrivalMs: NaN, confidenceDb: Number.isFinite(confidenceDb) ? confidenceDb : NaN, spreadMs: NaN, reason: `${lead}${firstReason}` };
  }
  const a = good.map((s) => s.arrivalMs).sort((x, y) => x - y);
  const mid = a.length >> 1;
  const median = a.length % 2 ? a[mid]! : 0.5 * (a[mid - 1]! + a[mid]!);
  const spreadMs = a[a.length - 1]! - a[0]!;
  if (spreadMs > maxSpreadMs) {
    return {
      ok: false,
      arrivalMs: median,
      confidenceDb,
      spreadMs,
      reason: `its timing varied by ${spreadMs.toFixed(2)} ms between sweeps (${a.map((v) => v.toFixed(2)).join(', ')} ms; at most ${maxSpreadMs} ms is trusted): the device may be busy or its output glitching: run calibrate again`,
    };
  }
  return { ok: true, arrivalMs: median, confidenceDb, spreadMs };
}
