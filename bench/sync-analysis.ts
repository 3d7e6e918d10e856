/**
 * Analysis for the sync benchmark: turns member telemetry (one JSON line per accepted reading)
 * plus the timelines the leader issued into true errors, inter-member spread and convergence.
 *
 * Every process on this machine reads the same CLOCK_MONOTONIC (process.hrtime), so a reading's
 * `localMs` already is an instant on the leader's clock: the true error needs no clock estimate.
 * All times here are leader (shared) milliseconds.
 */
import { localMs, sharedMs } from '../src/clock/time.js';
import { playheadAt } from '../src/protocol/timeline.js';
import type { Timeline, Track } from '../src/protocol/messages.js';

import type { TelemetryLine } from '../src/member/telemetry.js';
export type { TelemetryLine };
export { mean, median, percentile, stats, type Stats } from './stats.js';

export interface TrueReading {
  member: string;
  /** leader ms of the reading */
  t: number;
  /** audio position − true timeline position, ms (positive: ahead) */
  trueErrMs: number;
  /** the member's own estimate of the same error */
  estErrMs: number;
  /** member's estimate of the shared instant minus the true one, ms */
  clockErrMs: number;
  ipcRttMs: number;
  speed: number;
}

export type Series = Map<string, TrueReading[]>;

/**
 * The timeline in force at `t`: the newest command (highest seq) whose instant has come. The leader
 * restates a playing timeline from a later anchor under the same seq (same meaning); among those the
 * latest anchor at or before `t` is taken.
 */
export function timelineAt(timelines: readonly Timeline[], t: number): Timeline | null {
  let found: Timeline | null = null;
  for (const tl of timelines) {
    if (tl.at > t) continue;
    if (!found || tl.seq > found.seq || (tl.seq === found.seq && tl.at > found.at)) found = tl;
  }
  return found;
}

export interface TrueErrorResult {
  series: Series;
  /** readings whose track is neither the timeline's track nor a neighbour of it */
  unmatched: number;
}

/**
 * True error of each reading against the timeline in force at localMs + latencyOffsetMs. A reading
 * of track k compared with a timeline already in track k+1 (or the other way round, around a
 * boundary) is compared across the boundary, so it still gives the right small number.
 */
export function trueErrors(lines: readonly TelemetryLine[], timelines: readonly Timeline[], tracks: readonly Pick<Track, 'durationSec'>[]): TrueErrorResult {
  const series: Series = new Map();
  let unmatched = 0;
  for (const r of lines) {
    const target = r.localMs + r.latencyOffsetMs;
    const tl = timelineAt(timelines, target);
    if (!tl) continue;
    const here = playheadAt(tl, tracks, sharedMs(target)); // one machine: the shared clock is the monotonic clock
    if (here.state !== 'playing') continue;
    let errSec: number;
    if (r.trackIndex === here.trackIndex) errSec = r.audioPtsSec - here.positionSec;
    else if (r.trackIndex + 1 === here.trackIndex) errSec = r.audioPtsSec - (tracks[r.trackIndex]?.durationSec ?? NaN) - here.positionSec;
    else if (r.trackIndex === here.trackIndex + 1) errSec = r.audioPtsSec + (tracks[here.trackIndex]?.durationSec ?? NaN) - here.positionSec;
    else errSec = NaN;
    if (!Number.isFinite(errSec)) {
      unmatched++;
      continue;
    }
    const reading: TrueReading = {
      member: r.member,
      t: r.localMs,
      trueErrMs: errSec * 1000,
      estErrMs: r.errorMs,
      clockErrMs: r.sharedMs - r.localMs,
      ipcRttMs: r.ipcRttMs,
      speed: r.speed,
    };
    let list = series.get(r.member);
    if (!list) series.set(r.member, (list = []));
    list.push(reading);
  }
  for (const list of series.values()) list.sort((a, b) => a.t - b.t);
  return { series, unmatched };
}

/** Linear interpolation of a member's true error at `t`, or null when the readings around it are too far apart. */
export function interpolate(list: readonly TrueReading[], t: number, maxGapMs: number): number | null {
  // binary search for the first reading at or after t
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.t < t) lo = mid + 1;
    else hi = mid;
  }
  const after = list[lo];
  const before = lo > 0 ? list[lo - 1] : undefined;
  if (after && after.t === t) return after.trueErrMs;
  if (!after || !before) return null;
  if (after.t - before.t > maxGapMs) return null;
  const f = (t - before.t) / (after.t - before.t);
  return before.trueErrMs + (after.trueErrMs - before.trueErrMs) * f;
}

/**
 * Track boundaries (leader ms) crossed by auto-advance while each command's timeline is in force,
 * up to `endMs` (a playlist played straight through, no repeat).
 */
export function trackBoundaries(timelines: readonly Timeline[], tracks: readonly Pick<Track, 'durationSec'>[], endMs: number): number[] {
  // one timeline per command: its first statement
  const bySeq = new Map<number, Timeline>();
  for (const tl of timelines) {
    const seen = bySeq.get(tl.seq);
    if (!seen || tl.at < seen.at) bySeq.set(tl.seq, tl);
  }
  const sorted = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const out: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const tl = sorted[i]!;
    if (tl.state !== 'playing') continue;
    const until = Math.min(endMs, sorted[i + 1]?.at ?? Infinity);
    let sec = -tl.positionSec;
    for (let k = tl.trackIndex; k < tracks.length - 1; k++) {
      sec += tracks[k]!.durationSec;
      const at = tl.at + sec * 1000;
      if (at >= until) break;
      out.push(at);
    }
  }
  return out;
}

export interface GridPoint {
  t: number;
  /** per member, in the order of `members` */
  errs: number[];
}

/** Samples every member's true error on a common grid; points where any member lacks data are dropped. */
export function grid(series: Series, members: readonly string[], fromMs: number, toMs: number, stepMs = 100, maxGapMs = 250): GridPoint[] {
  const out: GridPoint[] = [];
  for (let i = 0; fromMs + i * stepMs < toMs; i++) {
    const t = fromMs + i * stepMs;
    const errs: number[] = [];
    let complete = true;
    for (const m of members) {
      const v = interpolate(series.get(m) ?? [], t, maxGapMs);
      if (v === null) {
        complete = false;
        break;
      }
      errs.push(v);
    }
    if (complete) out.push({ t, errs });
  }
  return out;
}

export interface Convergence {
  /** ms from the command's instant until the error stayed within the threshold for holdMs, or null */
  ms: number | null;
  thresholdMs: number;
}

/**
 * Convergence after a command: the first grid instant from which every member's |true error| stays
 * within `thresholdMs` for `holdMs`. Grid points without data for every member neither break nor
 * count towards the hold, but at least 80 % of the hold must be covered by data.
 */
export function convergence(series: Series, members: readonly string[], instantMs: number, untilMs: number, thresholdMs: number, holdMs = 1000, stepMs = 100): Convergence {
  const points = grid(series, members, instantMs, untilMs, stepMs);
  const needed = Math.ceil((0.8 * holdMs) / stepMs);
  for (let i = 0; i < points.length; i++) {
    const start = points[i]!;
    if (start.errs.some((e) => Math.abs(e) > thresholdMs)) continue;
    if (start.t + holdMs > untilMs) break;
    let ok = true;
    let count = 0;
    for (let j = i; j < points.length && points[j]!.t <= start.t + holdMs; j++) {
      if (points[j]!.errs.some((e) => Math.abs(e) > thresholdMs)) {
        ok = false;
        break;
      }
      count++;
    }
    if (ok && count >= needed) return { ms: start.t - instantMs, thresholdMs };
  }
  return { ms: null, thresholdMs };
}

export interface Window {
  from: number;
  to: number;
}

/** True when `t` is inside a steady window and not within `marginMs` of any excluded instant. */
export function inSteady(t: number, windows: readonly Window[], excluded: readonly number[], marginMs: number): boolean {
  if (!windows.some((w) => t >= w.from && t < w.to)) return false;
  return !excluded.some((x) => Math.abs(t - x) <= marginMs);
}

/**
 * Per-reading noise: the standard deviation of successive differences / √2 over consecutive kept
 * readings no more than `maxGapMs` apart. White reading noise shows up here in full; slow real
 * wander barely does.
 */
export function readingNoiseMs(list: readonly TrueReading[], keep: (t: number) => boolean, maxGapMs = 250): number | null {
  const diffs: number[] = [];
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1]!;
    const b = list[i]!;
    if (b.t - a.t <= maxGapMs && keep(a.t) && keep(b.t)) diffs.push(b.trueErrMs - a.trueErrMs);
  }
  if (diffs.length < 2) return null;
  const mean = diffs.reduce((x, y) => x + y, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((x, y) => x + (y - mean) ** 2, 0) / (diffs.length - 1));
  return sd / Math.SQRT2;
}

/**
 * Spread after a centred moving average of each member's error over ±halfMs (grid points whose
 * whole window is present). Reading noise averages out; what remains is the slow part of the
 * spread, closer to what the speakers actually do.
 */
export function smoothedSpreads(points: readonly GridPoint[], halfMs: number, stepMs = 100): number[] {
  const byT = new Map(points.map((p) => [Math.round(p.t), p]));
  const steps = Math.round(halfMs / stepMs);
  const out: number[] = [];
  for (const p of points) {
    const sums = p.errs.map(() => 0);
    let complete = true;
    for (let k = -steps; k <= steps && complete; k++) {
      const q = byT.get(Math.round(p.t + k * stepMs));
      if (!q) complete = false;
      else q.errs.forEach((e, i) => (sums[i]! += e));
    }
    if (!complete) continue;
    const avg = sums.map((x) => x / (2 * steps + 1));
    out.push(Math.max(...avg) - Math.min(...avg));
  }
  return out;
}

/**
 * Readings with `localMs` taken on a clock other than the leader's (a member under libfaketime):
 * mapped back to the real (shared) clock with the known transform before anything else.
 * `sharedMs` stays the member's own estimate, so clockErrMs keeps meaning "estimate − truth".
 */
export function mapLocalClock(lines: readonly TelemetryLine[], toReal: (member: string) => ((localMs: number) => number) | null): TelemetryLine[] {
  return lines.map((l) => {
    const f = toReal(l.member);
    return f ? { ...l, localMs: localMs(f(l.localMs)) } : l;
  });
}

/** A series with a constant subtracted per member (convergence to an expected, known bias). */
export function shiftSeries(series: Series, biasMs: (member: string) => number): Series {
  const out: Series = new Map();
  for (const [m, list] of series) {
    const b = biasMs(m);
    out.set(m, b === 0 ? list : list.map((r) => ({ ...r, trueErrMs: r.trueErrMs - b })));
  }
  return out;
}

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat; null if gone. */
export function cpuSeconds(pid: number, readFile: (p: string) => string): number | null {
  try {
    const stat = readFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime 15
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Peak resident set size (VmHWM) in MiB, from /proc/<pid>/status; null if gone. */
export function peakRssMiB(pid: number, readFile: (p: string) => string): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFile(`/proc/${pid}/status`));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Spread after averaging each member's readings over ±halfMs around each instant in `times`
 * (instants where some member has fewer than `minReadings` readings in its window are skipped).
 * Unlike smoothedSpreads() this tolerates gaps (readings dropped by the round-trip gate).
 */
export function windowedSpreads(series: Series, members: readonly string[], times: readonly number[], halfMs = 500, minReadings = 3): number[] {
  const lists = members.map((m) => series.get(m) ?? []);
  const lowerBound = (list: readonly TrueReading[], t: number): number => {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.t < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const out: number[] = [];
  for (const t of times) {
    const avgs: number[] = [];
    for (const list of lists) {
      let sum = 0;
      let n = 0;
      for (let i = lowerBound(list, t - halfMs); i < list.length && list[i]!.t <= t + halfMs; i++) {
        sum += list[i]!.trueErrMs;
        n++;
      }
      if (n < minReadings) break;
      avgs.push(sum / n);
    }
    if (avgs.length === members.length) out.push(Math.max(...avgs) - Math.min(...avgs));
  }
  return out;
}

/** Mean true error of one member's readings within ±halfMs of t (null with fewer than minReadings). */
export function windowMean(series: Series, member: string, t: number, halfMs = 500, minReadings = 3): number | null {
  const list = series.get(member) ?? [];
  let sum = 0;
  let n = 0;
  for (const r of list) {
    if (r.t < t - halfMs) continue;
    if (r.t > t + halfMs) break;
    sum += r.trueErrMs;
    n++;
  }
  return n >= minReadings ? sum / n : null;
}

/**
 * How far `member`'s sound should lag `first`'s around t by the telemetry alone: first's mean
 * true error − member's, over the same ±halfMs window (null when either has too few readings).
 * The recorded lag minus this is how far the two members' sound and readings disagree.
 */
export function telemetryLagMs(series: Series, first: string, member: string, t: number): number | null {
  const e0 = windowMean(series, first, t);
  const ei = windowMean(series, member, t);
  return e0 === null || ei === null ? null : e0 - ei;
}
