/**
 * Wall-clock arithmetic in an IANA time zone with nothing but Intl: the local calendar fields of
 * an instant, the instant of a local date and time (DST gaps and overlaps included), and the
 * human-readable forms the scheduler logs.
 */

export interface LocalParts {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The zone this process runs in (the TZ variable, else the system's /etc/localtime). */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Checks an IANA zone name ("Europe/Berlin", "UTC") and returns its canonical spelling;
 * throws "unknown time zone" otherwise. Undefined or empty means the system zone.
 */
export function resolveTimeZone(tz: string | undefined, flag = '--tz'): string {
  const name = tz?.trim();
  if (!name) return systemTimeZone();
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new Error(`${flag} ${tz}: unknown time zone (expected an IANA name such as Europe/Berlin or America/New_York; list them with \`timedatectl list-timezones\`)`);
  }
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(tz: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormatters.set(tz, f);
  }
  return f;
}

/** The local calendar date and time (whole seconds) of instant `ms` in zone `tz`. */
export function localParts(ms: number, tz: string): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of partsFormatter(tz).formatToParts(new Date(ms))) {
    if (p.type in out) out[p.type as keyof LocalParts] = Number(p.value);
  }
  if (out.hour === 24) out.hour = 0; // some ICU versions still say 24 at midnight
  return out;
}

/** UTC offset of `tz` at instant `ms`, in ms (local = UTC + offset). */
export function offsetMs(ms: number, tz: string): number {
  const p = localParts(ms, tz);
  const whole = Math.floor(ms / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

const DAY_MS = 86_400_000;

export interface ZonedInstant {
  /** the instant in ms since the epoch */
  ms: number;
  /** 'exact': the local time happens once; 'ambiguous': twice (clocks went back), `ms` is the
   *  first; 'gap': never (clocks went forward), `ms` is where the clock would have shown it */
  kind: 'exact' | 'ambiguous' | 'gap';
}

/** The instant at which the clocks in `tz` show the given local date and time. */
export function zonedToUtc(p: LocalParts, tz: string): ZonedInstant {
  const guess = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  // Every offset in force within a day of the wanted time: transitions are further apart than that.
  const offsets = new Set([offsetMs(guess - DAY_MS, tz), offsetMs(guess, tz), offsetMs(guess + DAY_MS, tz)]);
  const candidates = [...offsets].map((o) => guess - o).sort((a, b) => a - b);
  const readsBack = candidates.filter((c) => sameLocal(localParts(c, tz), p));
  if (readsBack.length > 0) return { ms: readsBack[0]!, kind: readsBack.length > 1 ? 'ambiguous' : 'exact' };
  // Inside a gap: the later candidate (the earlier offset applied) reads as the time the clock
  // jumped to plus the wanted time's distance past the jump, e.g. 02:30 → 03:30 in spring.
  return { ms: candidates[candidates.length - 1]!, kind: 'gap' };
}

function sameLocal(a: LocalParts, b: LocalParts): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && a.second === b.second;
}

/** The calendar day after (year, month, day). */
export function nextDay(year: number, month: number, day: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(year, month - 1, day + 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** "Sat 2026-11-21 20:00:00 CET" — an instant as the clocks in `tz` show it. */
export function formatWall(ms: number, tz: string): string {
  const p = localParts(ms, tz);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const weekday = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short' }).format(new Date(ms));
  // The zone's abbreviation where English has one (CET, EST, UTC), else its offset (GMT+9).
  const abbreviation = (locale: string): string | undefined =>
    new Intl.DateTimeFormat(locale, { timeZone: tz, timeZoneName: 'short' })
      .formatToParts(new Date(ms))
      .find((x) => x.type === 'timeZoneName')?.value;
  const us = abbreviation('en-US');
  const zone = (us && !/^GMT[+-]/.test(us) ? us : abbreviation('en-GB') ?? us) ?? tz;
  return `${weekday} ${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)} ${zone}`;
}

/** "2 h 5 min", "3 d 4 h", "5 min 3 s", "42 s" — roughly how long `ms` is. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}
