/**
 * Next occurrences of cron expressions and times of day in a time zone: DST changes, the
 * days node-cron's tokens name, and agreement with node-cron's own next-run computation.
 */
import cron from 'node-cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { wallMs, type WallMs } from '../../../src/clock/time.js';
import { nextOccurrence, parseCron, parseTimeOfDay } from '../../../src/leader/schedule/cron.js';
import { formatDuration, formatWall, resolveTimeZone, zonedToUtc } from '../../../src/leader/schedule/time-zone.js';
import { validateScheduleOptions } from '../../../src/leader/schedule/party-scheduler.js';

const utc = (iso: string): WallMs => wallMs(Date.parse(iso));
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function chain(spec: ReturnType<typeof parseCron>, fromIso: string, tz: string, n: number): string[] {
  const out: string[] = [];
  let from = utc(fromIso);
  for (let i = 0; i < n; i++) {
    const next = nextOccurrence(spec, from, tz);
    if (next === null) break;
    out.push(iso(next)!);
    from = next;
  }
  return out;
}

describe('cron next occurrence', () => {
  it('"0 20 * * 6" in Europe/Berlin keeps 20:00 local across the spring DST change', () => {
    const spec = parseCron('0 20 * * 6');
    // Sat 21 Mar 20:00 CET (UTC+1) → Sat 28 Mar 20:00 CET → (clocks go forward Sun 29 Mar) → Sat 4 Apr 20:00 CEST (UTC+2)
    expect(chain(spec, '2026-03-21T12:00:00Z', 'Europe/Berlin', 3)).toEqual(['2026-03-21T19:00:00.000Z', '2026-03-28T19:00:00.000Z', '2026-04-04T18:00:00.000Z']);
  });

  it('"0 20 * * 6" in Europe/Berlin across the autumn DST change', () => {
    const spec = parseCron('0 20 * * 6');
    // clocks go back on Sun 25 Oct 2026
    expect(chain(spec, '2026-10-24T18:00:00Z', 'Europe/Berlin', 2)).toEqual(['2026-10-31T19:00:00.000Z', '2026-11-07T19:00:00.000Z']);
  });

  it('is strictly after the given instant', () => {
    const spec = parseCron('0 20 * * 6');
    expect(iso(nextOccurrence(spec, utc('2026-11-21T19:00:00Z'), 'Europe/Berlin'))).toBe('2026-11-28T19:00:00.000Z');
    expect(iso(nextOccurrence(spec, utc('2026-11-21T18:59:59.999Z'), 'Europe/Berlin'))).toBe('2026-11-21T19:00:00.000Z');
  });

  it('skips a local time that does not exist (clocks forward), as node-cron does', () => {
    const spec = parseCron('30 2 * * *');
    expect(chain(spec, '2026-03-28T12:00:00Z', 'Europe/Berlin', 2)).toEqual(['2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
  });

  it('runs a local time that happens twice (clocks back) once, at its first occurrence', () => {
    const spec = parseCron('30 2 * * *');
    // 02:30 CEST = 00:30Z, then 02:30 CET = 01:30Z: only the first
    expect(chain(spec, '2026-10-24T12:00:00Z', 'Europe/Berlin', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('handles 6 fields (seconds), names, nicknames and L / W / # tokens', () => {
    expect(chain(parseCron('15 30 8 * * *'), '2026-11-21T12:00:00Z', 'UTC', 1)).toEqual(['2026-11-22T08:30:15.000Z']);
    expect(chain(parseCron('0 20 * jan,jul sat'), '2026-11-21T12:00:00Z', 'UTC', 1)).toEqual(['2027-01-02T20:00:00.000Z']);
    expect(chain(parseCron('@daily'), '2026-11-21T12:00:00Z', 'Asia/Tokyo', 1)).toEqual(['2026-11-21T15:00:00.000Z']);
    expect(chain(parseCron('0 0 L * *'), '2026-02-10T00:00:00Z', 'UTC', 2)).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
    expect(chain(parseCron('0 18 * * 5L'), '2026-11-01T00:00:00Z', 'UTC', 1)).toEqual(['2026-11-27T18:00:00.000Z']);
    expect(chain(parseCron('0 10 * * 1#2'), '2026-11-01T00:00:00Z', 'UTC', 1)).toEqual(['2026-11-09T10:00:00.000Z']);
    // 15 Nov 2026 is a Sunday: the nearest weekday is Monday 16
    expect(chain(parseCron('0 12 15W * *'), '2026-11-01T00:00:00Z', 'UTC', 1)).toEqual(['2026-11-16T12:00:00.000Z']);
    // 29 Feb on a Monday: 2044
    expect(chain(parseCron('0 0 29 2 1'), '2026-01-01T00:00:00Z', 'UTC', 1)).toEqual(['2044-02-29T00:00:00.000Z']);
  });

  describe('agrees with node-cron', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    const expressions = ['0 20 * * 6', '30 2 * * *', '*/15 * * * *', '0 0 L * *', '0 9 * * 1-5', '0 12 15W * *', '0 18 * * 5L', '0 10 * * 1#2', '15 30 8 * * *', '@weekly', '0 20 * jan,jul sat', '0 3 * * 0'];
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'];
    // Starting points around this year's DST changes and in ordinary weeks; the fall-back night's
    // repeated hour is left out: node-cron's next-run walk returns the second 02:30 there, while
    // its timer runs both, and the scheduler starts a party once, at the first.
    const starts = ['2026-03-27T12:00:00Z', '2026-04-03T10:00:00Z', '2026-09-30T23:00:00Z', '2026-11-21T17:36:00Z'];
    for (const tz of zones) {
      it(`in ${tz}`, async () => {
        for (const expression of expressions) {
          for (const start of starts) {
            vi.useFakeTimers({ toFake: ['Date'] });
            vi.setSystemTime(new Date(start));
            const task = cron.createTask(expression, () => {}, { timezone: tz });
            const theirs = task.getNextRuns(4).map((d) => d.toISOString());
            await task.destroy();
            vi.useRealTimers();
            const repeated = (s: string): boolean => zonedToUtc(toLocal(s, tz), tz).kind === 'ambiguous';
            const ours = chain(parseCron(expression), start, tz, 4);
            const n = Math.min(...[theirs, ours].map((xs) => (xs.findIndex(repeated) + 1 || xs.length + 1) - 1));
            expect(ours.slice(0, n), `${expression} in ${tz} from ${start}`).toEqual(theirs.slice(0, n));
            expect(n, `${expression} in ${tz} from ${start}: compared nothing`).toBeGreaterThan(0);
          }
        }
      });
    }
  });
});

function toLocal(isoString: string, tz: string) {
  const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  const p = Object.fromEntries(f.formatToParts(new Date(isoString)).map((x) => [x.type, Number(x.value)]));
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

describe('times of day (--start-at / --stop-at)', () => {
  const now = utc('2026-11-21T17:36:00Z'); // a Saturday

  it('today if still ahead, tomorrow if already past', () => {
    expect(iso(nextOccurrence(parseTimeOfDay('20:00'), now, 'UTC'))).toBe('2026-11-21T20:00:00.000Z');
    expect(iso(nextOccurrence(parseTimeOfDay('07:30'), now, 'UTC'))).toBe('2026-11-22T07:30:00.000Z');
    // this very second is already past: tomorrow
    expect(iso(nextOccurrence(parseTimeOfDay('17:36:00'), now, 'UTC'))).toBe('2026-11-22T17:36:00.000Z');
  });

  it('with seconds', () => {
    expect(iso(nextOccurrence(parseTimeOfDay('17:36:07'), now, 'UTC'))).toBe('2026-11-21T17:36:07.000Z');
    expect(iso(nextOccurrence(parseTimeOfDay('7:05:09'), now, 'UTC'))).toBe('2026-11-22T07:05:09.000Z');
  });

  it('in a time zone', () => {
    expect(iso(nextOccurrence(parseTimeOfDay('20:00'), now, 'Europe/Berlin'))).toBe('2026-11-21T19:00:00.000Z');
    // 17:36Z is 18:36 in Berlin: 18:00 Berlin is tomorrow's
    expect(iso(nextOccurrence(parseTimeOfDay('18:00'), now, 'Europe/Berlin'))).toBe('2026-11-22T17:00:00.000Z');
    // 17:36Z is 12:36 in New York: 20:00 there is 01:00Z the next day
    expect(iso(nextOccurrence(parseTimeOfDay('20:00'), now, 'America/New_York'))).toBe('2026-11-22T01:00:00.000Z');
    // 17:36Z is 02:36 on Sunday in Tokyo
    expect(iso(nextOccurrence(parseTimeOfDay('01:00'), now, 'Asia/Tokyo'))).toBe('2026-11-22T16:00:00.000Z');
  });

  it('a time skipped by the clocks going forward is taken as the instant the clock passed it', () => {
    // 29 Mar 2026, Berlin: 02:00 CET → 03:00 CEST; "02:30" is taken as 03:30 CEST that night
    expect(iso(nextOccurrence(parseTimeOfDay('02:30'), utc('2026-03-28T23:00:00Z'), 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
  });

  it('a time that happens twice is taken at its first occurrence', () => {
    expect(iso(nextOccurrence(parseTimeOfDay('02:30'), utc('2026-10-24T23:00:00Z'), 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
  });
});

describe('invalid input', () => {
  it('names the flag and the problem', () => {
    expect(() => validateScheduleOptions({ startAt: '25:00' })).toThrow('--start-at 25:00: hours are 0–23');
    expect(() => validateScheduleOptions({ startAt: '12:60' })).toThrow('--start-at 12:60: minutes are 00–59');
    expect(() => validateScheduleOptions({ startAt: '12:5' })).toThrow('--start-at 12:5: minutes are 00–59');
    expect(() => validateScheduleOptions({ startAt: '12:00:61' })).toThrow('--start-at 12:00:61: seconds are 00–59');
    expect(() => validateScheduleOptions({ startAt: 'noon' })).toThrow(/--start-at noon: expected a time of day as HH:MM or HH:MM:SS/);
    expect(() => validateScheduleOptions({ stopAt: '-1:00' })).toThrow(/--stop-at -1:00: expected a time of day/);
    expect(() => validateScheduleOptions({ stopAt: '24:00' })).toThrow('--stop-at 24:00: hours are 0–23');
    expect(() => validateScheduleOptions({ schedule: '0 20 * *' })).toThrow(/--schedule: invalid cron expression "0 20 \* \*": expected 5 or 6 fields but got 4/);
    expect(() => validateScheduleOptions({ schedule: '61 20 * * *' })).toThrow(/--schedule: invalid cron expression "61 20 \* \* \*": 61 is a invalid expression for minute/);
    expect(() => validateScheduleOptions({ stopSchedule: 'every evening' })).toThrow(/--stop-schedule: invalid cron expression "every evening"/);
    expect(() => validateScheduleOptions({ schedule: '0 0 30 2 *' })).toThrow(/--schedule: invalid cron expression/);
    expect(() => validateScheduleOptions({ startAt: '20:00', tz: 'Mars/Olympus_Mons' })).toThrow('--tz Mars/Olympus_Mons: unknown time zone');
    expect(() => validateScheduleOptions({ tz: 'Nowhere' })).toThrow('--tz Nowhere: unknown time zone');
  });

  it('accepts good input, and nothing at all', () => {
    expect(validateScheduleOptions({})).toBeNull();
    // empty values (a service unit passing an unset variable) count as not given
    expect(validateScheduleOptions({ startAt: '', schedule: ' ', stopAt: '', stopSchedule: '', tz: '' })).toBeNull();
    expect(validateScheduleOptions({ startAt: '20:00', schedule: '', tz: '' })?.schedule).toBeNull();
    expect(validateScheduleOptions({ tz: 'Europe/Berlin' })).toBeNull();
    const v = validateScheduleOptions({ startAt: '20:00', schedule: '0 20 * * 6', stopAt: '23:30:15', stopSchedule: '0 23 * * 6', tz: 'Europe/Berlin' })!;
    expect(v.tz).toBe('Europe/Berlin');
    expect([v.startAt, v.schedule, v.stopAt, v.stopSchedule].every((x) => x !== null)).toBe(true);
    expect(resolveTimeZone(undefined)).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});

describe('formatting', () => {
  it('local times and durations', () => {
    expect(formatWall(utc('2026-11-21T19:00:00Z'), 'Europe/Berlin')).toBe('Sat 2026-11-21 20:00:00 CET');
    expect(formatWall(utc('2026-07-04T18:00:00Z'), 'Europe/Berlin')).toBe('Sat 2026-07-04 20:00:00 CEST');
    expect(formatWall(utc('2026-11-21T19:00:00Z'), 'UTC')).toBe('Sat 2026-11-21 19:00:00 UTC');
    expect(formatDuration((2 * 60 + 5) * 60_000)).toBe('2 h 5 min');
    expect(formatDuration(2 * 3600_000)).toBe('2 h');
    expect(formatDuration((3 * 24 + 4) * 3600_000 + 59_000)).toBe('3 d 4 h');
    expect(formatDuration(5 * 60_000 + 3000)).toBe('5 min 3 s');
    expect(formatDuration(42_400)).toBe('42 s');
  });
});
