/**
 * Cron expressions (node-cron syntax, 5 or 6 fields) and daily times of day, and the next
 * instant either occurs at in a time zone, counted from ANY instant.
 *
 * Why not node-cron's own next-run API: node-cron 4 can tell the next run only of a task object
 * and only from the system clock (`task.getNextRuns(n)` starts at `new Date()`, `getNextRun()`
 * needs a started task, which arms node-cron's own once-a-second timer). The scheduler must count
 * from an injected wall clock (the NTP-disciplined UTC clock, or a test's clock) and must never
 * run a second timer of its own. The matcher that walks from a given date is internal to the
 * package (not exported). So node-cron does the parsing and validation (`validateDetailed`:
 * names, ranges, steps, nicknames such as @daily, L / W / # tokens) and this module walks the
 * calendar of the zone day by day with the parsed fields, applying node-cron's rules: day of
 * month AND day of week must both match; a local time that does not exist (the hour skipped
 * when clocks go forward) does not run; a local time that happens twice (clocks go back) runs
 * at its first occurrence. The unit tests check the result against node-cron's own
 * getNextRuns() under a faked system clock.
 */
import cron from 'node-cron';
import { wallMs, type WallMs } from '../../clock/time.js';
import { localParts, nextDay, offsetMs, zonedToUtc, type LocalParts } from './time-zone.js';

type DayToken = number | string;

export interface RecurringTime {
  /** what the user wrote, for messages */
  source: string;
  seconds: number[];
  minutes: number[];
  hours: number[];
  /** does this local calendar day qualify? */
  dayMatches(year: number, month: number, day: number): boolean;
  /** a local time skipped by a DST jump: 'skip' it (cron) or take the instant the clock jumped past it ('shift') */
  inGap: 'skip' | 'shift';
}

/** How far ahead to look: enough for "Feb 29 that is a Monday" (every 28 years at worst). */
const MAX_DAYS = 366 * 30;

/**
 * Parses a cron expression with node-cron; throws "<flag>: invalid cron expression …" naming
 * the bad fields.
 */
export function parseCron(expression: string, flag = '--schedule'): RecurringTime {
  const expr = expression.trim();
  const result = cron.validateDetailed(expr);
  if (!result.valid || !result.fields) {
    const why = result.errors.map((e) => e.message).join('; ') || 'not understood';
    throw new Error(
      `${flag}: invalid cron expression "${expression}": ${why} ` +
        '(expected 5 or 6 fields: [second] minute hour day-of-month month day-of-week, e.g. "0 20 * * 6" for Saturdays at 20:00)',
    );
  }
  const f = result.fields;
  const sortNum = (xs: DayToken[]): number[] => [...new Set(xs.filter((x): x is number => typeof x === 'number'))].sort((a, b) => a - b);
  const months = new Set(f.month);
  const dom = f.dayOfMonth as DayToken[];
  const dow = f.dayOfWeek as DayToken[];
  return {
    source: expr,
    seconds: sortNum(f.second),
    minutes: sortNum(f.minute),
    hours: sortNum(f.hour),
    dayMatches: (year, month, day) => months.has(month) && matchesDayOfMonth(dom, year, month, day) && matchesDayOfWeek(dow, year, month, day),
    inGap: 'skip',
  };
}

/** Parses "HH:MM" or "HH:MM:SS" (24-hour); throws "<flag> 25:00: hours are 0–23" and the like. */
export function parseTimeOfDay(text: string, flag = '--start-at'): RecurringTime {
  const m = /^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?\s*$/.exec(text);
  if (!m) throw new Error(`${flag} ${text}: expected a time of day as HH:MM or HH:MM:SS (24-hour clock), e.g. 20:00 or 07:30:15`);
  const [hour, minute, second] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (hour > 23) throw new Error(`${flag} ${text}: hours are 0–23`);
  if (minute > 59 || m[2]!.length !== 2) throw new Error(`${flag} ${text}: minutes are 00–59`);
  if (second > 59 || (m[3] !== undefined && m[3].length !== 2)) throw new Error(`${flag} ${text}: seconds are 00–59`);
  return {
    source: text.trim(),
    seconds: [second],
    minutes: [minute],
    hours: [hour],
    dayMatches: () => true,
    // Once-only times of day are meant literally: 02:30 on the night the clocks skip from 02:00
    // to 03:00 is taken as 03:30 that night rather than 02:30 the next night.
    inGap: 'shift',
  };
}

/**
 * The first instant strictly after `afterMs` at which the clocks in `tz` show a time matching
 * `spec`, or null if there is none within 30 years.
 */
export function nextOccurrence(spec: RecurringTime, afterMs: WallMs, tz: string): WallMs | null {
  const start = localParts(afterMs, tz);
  let { year, month, day } = start;
  // The day before too: the first minutes after a fall-back can belong to yesterday's overlap.
  ({ year, month, day } = previousDay(year, month, day));
  for (let i = 0; i < MAX_DAYS; i++) {
    if (spec.dayMatches(year, month, day)) {
      const found = firstOnDay(spec, year, month, day, afterMs, start, tz);
      if (found !== null) return wallMs(found);
    }
    ({ year, month, day } = nextDay(year, month, day));
  }
  return null;
}

function firstOnDay(spec: RecurringTime, year: number, month: number, day: number, afterMs: number, start: LocalParts, tz: string): number | null {
  const dayIndex = Date.UTC(year, month - 1, day) / 86_400_000;
  const startIndex = Date.UTC(start.year, start.month - 1, start.day) / 86_400_000;
  const startSecondOfDay = start.hour * 3600 + start.minute * 60 + start.second;
  // Most days have one UTC offset throughout (and around): then a local time is a plain sum.
  const midnight = Date.UTC(year, month - 1, day);
  const o = offsetMs(midnight, tz);
  const steady = offsetMs(midnight - 86_400_000, tz) === o && offsetMs(midnight + 2 * 86_400_000, tz) === o;
  for (const hour of spec.hours) {
    for (const minute of spec.minutes) {
      for (const second of spec.seconds) {
        // Cheap pre-filter in local time: UTC offsets change by at most a few hours, so a local
        // time more than 3 h before the starting local time cannot come after it.
        const localSecond = (dayIndex - startIndex) * 86_400 + hour * 3600 + minute * 60 + second;
        if (localSecond < startSecondOfDay - 3 * 3600) continue;
        const z = steady
          ? { ms: midnight + (hour * 3600 + minute * 60 + second) * 1000 - o, kind: 'exact' as const }
          : zonedToUtc({ year, month, day, hour, minute, second }, tz);
        if (z.kind === 'gap' && spec.inGap === 'skip') continue;
        if (z.ms > afterMs) return z.ms;
      }
    }
  }
  return null;
}

function previousDay(year: number, month: number, day: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(year, month - 1, day - 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

// ---- node-cron's day rules, over the fields its parser returns --------------------------------

function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** The weekday (Mon–Fri) nearest to `target` within its month, as node-cron's W token means. */
function nearestWeekday(year: number, month: number, target: number): number {
  const last = lastDayOfMonth(year, month);
  if (target < 1 || target > last) return -1;
  const wd = weekdayOf(year, month, target);
  if (wd === 6) return target === 1 ? target + 2 : target - 1;
  if (wd === 0) return target === last ? target - 2 : target + 1;
  return target;
}

function matchesDayOfMonth(field: DayToken[], year: number, month: number, day: number): boolean {
  for (const v of field) {
    if (v === day) return true;
    if (typeof v !== 'string') continue;
    if (v === 'L' && day === lastDayOfMonth(year, month)) return true;
    const w = /^(\d{1,2}|L)W$/.exec(v);
    if (w) {
      const target = w[1] === 'L' ? lastDayOfMonth(year, month) : Number(w[1]);
      if (nearestWeekday(year, month, target) === day) return true;
    }
    const off = /^L-(\d{1,2})$/.exec(v);
    if (off) {
      const target = lastDayOfMonth(year, month) - Number(off[1]);
      if (target >= 1 && target === day) return true;
    }
  }
  return false;
}

function matchesDayOfWeek(field: DayToken[], year: number, month: number, day: number): boolean {
  const wd = weekdayOf(year, month, day);
  for (const v of field) {
    if (v === wd) return true;
    if (typeof v !== 'string') continue;
    const nth = /^([0-7])#([1-5])$/.exec(v);
    if (nth) {
      if (Number(nth[1]) % 7 === wd && Math.floor((day - 1) / 7) + 1 === Number(nth[2])) return true;
      continue;
    }
    const last = /^([0-7])L$/i.exec(v);
    if (last && Number(last[1]) % 7 === wd && day + 7 > lastDayOfMonth(year, month)) return true;
  }
  return false;
}
