/**
 * Scheduled party starts and stops: `--start-at 20:00`, `--schedule "0 20 * * 6"`, `--stop-at`,
 * `--stop-schedule`, in a time zone.
 *
 * A start must be HEARD at the wall-clock instant, on every member. So the command is not sent
 * when a timer fires: it is issued `leadMs` ahead (or at once if less remains), with its
 * effective instant set to the shared-clock instant that corresponds to the wall-clock one —
 *     shared = sharedNow() + (wallMs − wallNow())
 * evaluated right before issuing (the wall clock may have been stepped since the timer was
 * set). Members arm ahead and unpause at that shared instant.
 *
 * Timers: setTimeout counts on the monotonic clock, stops during suspend and is capped at
 * 2^31−1 ms. So waits are chained in slices of at most `sliceMs` (1 min by default) and every
 * wake-up recomputes from the wall clock: a step of the system clock, an NTP correction or a
 * suspend is noticed within a slice, and a target it made pass unnoticed by more than
 * `missedToleranceMs` is skipped with a warning rather than fired late.
 */
import { sharedMs, wallMs, wallNow, type SharedMs, type WallMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import type { Command } from '../timeline-commands.js';
import { nextOccurrence, parseCron, parseTimeOfDay, type RecurringTime } from './cron.js';
import { formatDuration, formatWall, resolveTimeZone } from './time-zone.js';

/** Longest single setTimeout Node accepts (larger values fire at once). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface ScheduleFlags {
  /** HH:MM[:SS]: start once, today (or tomorrow if already past) */
  startAt?: string | undefined;
  /** cron expression: start at every occurrence */
  schedule?: string | undefined;
  /** HH:MM[:SS]: stop once, today (or tomorrow if already past) */
  stopAt?: string | undefined;
  /** cron expression: stop at every occurrence */
  stopSchedule?: string | undefined;
  /** IANA time zone for all of the above (default: the system's)
   *  (an empty string counts as not given, for each of these) */
  tz?: string | undefined;
}

export interface ValidatedSchedule {
  tz: string;
  startAt: RecurringTime | null;
  schedule: RecurringTime | null;
  stopAt: RecurringTime | null;
  stopSchedule: RecurringTime | null;
}

/**
 * Checks every schedule flag; throws an Error naming the flag and what is wrong with it.
 * Returns null when no schedule is set at all.
 */
export function validateScheduleOptions(flags: ScheduleFlags, nowMs: WallMs = wallNow()): ValidatedSchedule | null {
  // An empty value means "not set": a service unit can always pass --schedule=${SYNCPLAY_SCHEDULE}.
  const given = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v);
  const o: ScheduleFlags = { startAt: given(flags.startAt), schedule: given(flags.schedule), stopAt: given(flags.stopAt), stopSchedule: given(flags.stopSchedule), tz: given(flags.tz) };
  const any = o.startAt !== undefined || o.schedule !== undefined || o.stopAt !== undefined || o.stopSchedule !== undefined;
  if (!any) {
    if (o.tz !== undefined) resolveTimeZone(o.tz);
    return null;
  }
  const tz = resolveTimeZone(o.tz);
  const v: ValidatedSchedule = {
    tz,
    startAt: o.startAt === undefined ? null : parseTimeOfDay(o.startAt, '--start-at'),
    schedule: o.schedule === undefined ? null : parseCron(o.schedule, '--schedule'),
    stopAt: o.stopAt === undefined ? null : parseTimeOfDay(o.stopAt, '--stop-at'),
    stopSchedule: o.stopSchedule === undefined ? null : parseCron(o.stopSchedule, '--stop-schedule'),
  };
  for (const [flag, spec] of [['--schedule', v.schedule], ['--stop-schedule', v.stopSchedule]] as const) {
    if (spec && nextOccurrence(spec, nowMs, tz) === null) throw new Error(`${flag}: the cron expression "${spec.source}" never occurs (within 30 years) in ${tz}`);
  }
  return v;
}

export type IssueResult = { ok: true } | { ok: false; error: string };

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PartySchedulerOptions extends ScheduleFlags {
  /** the flags already validated (validateScheduleOptions); otherwise they are validated here */
  validated?: ValidatedSchedule;
  /** how long before the wall-clock instant the command is issued (default 5000 ms) */
  leadMs?: number;
  /** UTC wall clock, ms since the epoch (default Date.now; the NTP-disciplined clock when there is one) */
  wallNow?: () => WallMs;
  /** the leader's shared clock, ms */
  sharedNow: () => SharedMs;
  /** sets the timeline: `command` effective at the shared instant `atShared` */
  issue: (command: Command, atShared: SharedMs) => IssueResult;
  /** is the party playing at shared instant `atShared` (then a start is skipped)? */
  isPlaying?: (atShared: SharedMs) => boolean;
  log: Logger;
  timers?: Timers;
  /** longest single wait before the wall clock is looked at again (default 60 000 ms) */
  sliceMs?: number;
  /** a target found already this far past (suspend, clock step) is skipped, not fired (default 2000 ms) */
  missedToleranceMs?: number;
}

type Role = 'start' | 'stop';

interface Trigger {
  role: Role;
  flag: string;
  spec: RecurringTime;
  once: boolean;
  /** the next wall-clock instant, ms; null: done */
  target: WallMs | null;
}

export interface NextEvents {
  nextStart: Date | null;
  nextStop: Date | null;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.(); // the leader's server keeps the process alive, not the schedule
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class PartyScheduler {
  readonly tz: string;
  private readonly triggers: Trigger[] = [];
  private readonly leadMs: number;
  private readonly sliceMs: number;
  private readonly missedToleranceMs: number;
  private readonly wallNow: () => WallMs;
  private readonly timers: Timers;
  private timer: unknown = null;
  private running = false;
  /** the shared instant of the last command issued: the next one waits until it has taken effect */
  private lastIssuedAt = sharedMs(-Infinity);
  /** wall instants of commands issued ahead that have not come yet: still "next" in status */
  private readonly issuedAhead = new Map<Role, WallMs>();

  constructor(private readonly opts: PartySchedulerOptions) {
    const v = opts.validated ?? validateScheduleOptions(opts, (opts.wallNow ?? wallNow)());
    this.tz = v?.tz ?? resolveTimeZone(opts.tz);
    this.leadMs = Math.max(0, opts.leadMs ?? 5000);
    this.sliceMs = Math.max(1, Math.min(opts.sliceMs ?? 60_000, MAX_TIMEOUT_MS));
    this.missedToleranceMs = Math.max(0, opts.missedToleranceMs ?? 2000);
    this.wallNow = opts.wallNow ?? wallNow;
    this.timers = opts.timers ?? defaultTimers;
    if (v) {
      // Stops first: when a stop and a start fall on one instant, the start is issued last and wins.
      if (v.stopAt) this.triggers.push({ role: 'stop', flag: '--stop-at', spec: v.stopAt, once: true, target: null });
      if (v.stopSchedule) this.triggers.push({ role: 'stop', flag: '--stop-schedule', spec: v.stopSchedule, once: false, target: null });
      if (v.startAt) this.triggers.push({ role: 'start', flag: '--start-at', spec: v.startAt, once: true, target: null });
      if (v.schedule) this.triggers.push({ role: 'start', flag: '--schedule', spec: v.schedule, once: false, target: null });
    }
  }

  /** Computes the first targets, logs them and arms the timer. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.wallNow();
    for (const t of this.triggers) t.target = nextOccurrence(t.spec, now, this.tz);
    this.logNext('start', true);
    this.logNext('stop', true);
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  next(): NextEvents {
    const at = (role: Role): Date | null => {
      const ms = this.nextTarget(role);
      return ms === null ? null : new Date(ms);
    };
    return { nextStart: at('start'), nextStop: at('stop') };
  }

  /** The next start or stop: one already issued whose instant has not come yet, else the next target. */
  private nextTarget(role: Role): WallMs | null {
    const ahead = this.issuedAhead.get(role);
    if (ahead !== undefined && ahead > this.wallNow()) return ahead;
    return this.nextTriggerTarget(role);
  }

  private nextTriggerTarget(role: Role): WallMs | null {
    let best: WallMs | null = null;
    for (const t of this.triggers) if (t.role === role && t.target !== null && (best === null || t.target < best)) best = t.target;
    return best;
  }

  private tick(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    let waitMs = Infinity;
    // One reading of the wall clock decides both what is due and how long the rest wait: with a
    // second reading, a trigger found just short of due (a timer wakes up to 1 ms early by the
    // wall clock) could be past due by the next one and then be waited for by neither.
    let now = this.wallNow();
    for (;; now = this.wallNow()) {
      const due = this.triggers
        .filter((t) => t.target !== null && t.target - now <= this.leadMs)
        .sort((a, b) => a.target! - b.target!)[0];
      if (!due) break;
      const target = due.target!;
      if (target < now - this.missedToleranceMs) {
        this.opts.log.warn(`missed the ${due.role} at ${formatWall(target, this.tz)} by ${formatDuration(now - target)} (the machine was asleep or the clock was stepped): skipped`);
        this.advance(due, now);
        continue;
      }
      // One timeline at a time: a command for a later instant, issued before the previous one's
      // instant has come, would replace it unheard. (One for the same instant supersedes it.)
      const sharedNow = this.opts.sharedNow();
      const blockedMs = this.lastIssuedAt - sharedNow;
      if (blockedMs >= 0 && sharedNow + (target - now) > this.lastIssuedAt + 1) {
        waitMs = blockedMs + 1;
        break;
      }
      this.fire(due, target);
      this.advance(due, wallMs(Math.max(target, now)));
      this.logNext(due.role, false);
    }
    for (const t of this.triggers) {
      // (a trigger still due here is waiting for the previous command's instant: waitMs covers it)
      const untilDue = t.target === null ? Infinity : t.target - this.leadMs - now;
      if (untilDue > 0) waitMs = Math.min(waitMs, untilDue);
    }
    if (waitMs === Infinity) return; // nothing left to do
    this.timer = this.timers.setTimeout(() => this.tick(), Math.max(0, Math.min(Math.ceil(waitMs), this.sliceMs)));
  }

  private fire(t: Trigger, target: WallMs): void {
    const command: Command = t.role === 'start' ? { kind: 'play', trackIndex: 0 } : { kind: 'stop' };
    // The mapping is taken now, right before issuing, not when the timer was set.
    const at = sharedMs(this.opts.sharedNow() + (target - this.wallNow()));
    const when = formatWall(target, this.tz);
    if (t.role === 'start' && this.opts.isPlaying?.(at)) {
      this.opts.log.info(`scheduled start at ${when} (${t.flag}): already playing, left as it is`);
      return;
    }
    const result = this.opts.issue(command, at);
    this.lastIssuedAt = at;
    if (result.ok) {
      this.issuedAhead.set(t.role, target);
      this.opts.log.info(`scheduled ${t.role} at ${when} (${t.flag}): issued for shared instant ${at.toFixed(1)}, ${formatDuration(Math.max(0, target - this.wallNow()))} ahead`);
    } else if (t.role === 'stop') {
      this.opts.log.info(`scheduled stop at ${when} (${t.flag}): ${result.error}`);
    } else {
      this.opts.log.error(`scheduled start at ${when} (${t.flag}) failed: ${result.error}`);
    }
  }

  private advance(t: Trigger, fromMs: WallMs): void {
    t.target = t.once ? null : nextOccurrence(t.spec, fromMs, this.tz);
  }

  /** Logs the next target of `role` (after the one just issued, if any). */
  private logNext(role: Role, atStartUp: boolean): void {
    const next = this.nextTriggerTarget(role);
    if (next === null) {
      const had = this.triggers.some((t) => t.role === role);
      if (had && !atStartUp) this.opts.log.info(`no further scheduled ${role}`);
      return;
    }
    this.opts.log.info(`next ${role}: ${formatWall(next, this.tz)} (in ${formatDuration(next - this.wallNow())})`);
  }
}
