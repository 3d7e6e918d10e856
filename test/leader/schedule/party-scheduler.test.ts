/**
 * PartyScheduler with a controllable clock: a wall clock that can be stepped, a shared
 * (monotonic) clock that stops during suspend, and timers that run on the shared clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/log/logger.js';
import { sharedMs, wallMs } from '../../../src/clock/time.js';
import type { Command } from '../../../src/leader/timeline-commands.js';
import { MAX_TIMEOUT_MS, PartyScheduler, type IssueResult, type PartySchedulerOptions, type Timers } from '../../../src/leader/schedule/party-scheduler.js';

/** Wall clock + monotonic clock + timers that fire on the monotonic clock, like Node's. */
class FakeClock implements Timers {
  wall: number;
  shared: number;
  private seq = 0;
  private readonly pending = new Map<number, { due: number; fn: () => void }>();
  /** every delay ever asked for */
  readonly delays: number[] = [];

  constructor(wallIso: string, shared = 1_000_000.25) {
    this.wall = Date.parse(wallIso);
    this.shared = shared;
  }

  setTimeout = (fn: () => void, ms: number): unknown => {
    this.delays.push(ms);
    const id = ++this.seq;
    this.pending.set(id, { due: this.shared + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (h: unknown): void => {
    this.pending.delete(h as number);
  };

  get timerCount(): number {
    return this.pending.size;
  }

  /** Time passes: both clocks advance together and due timers fire in order. */
  advance(ms: number): void {
    const end = this.shared + ms;
    for (let fired = 0; ; fired++) {
      if (fired > 1_000_000) throw new Error('timers keep firing without time passing');
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].due <= end && (!next || e[1].due < next[1].due)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.wall += next[1].due - this.shared;
      this.shared = next[1].due;
      next[1].fn();
    }
    this.wall += end - this.shared;
    this.shared = end;
  }

  advanceTo(wallIso: string): void {
    this.advance(Date.parse(wallIso) - this.wall);
  }

  /** The system clock is stepped (NTP, an admin): only the wall clock moves. */
  stepWall(ms: number): void {
    this.wall += ms;
  }

  /** Suspend: the wall clock moves, the monotonic clock and its timers stand still. */
  suspend(ms: number): void {
    this.wall += ms;
  }
}

interface Issued {
  command: Command;
  at: number;
  /** the clocks when it was issued */
  wall: number;
  shared: number;
}

function logCapture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log: Logger = {
    error: (m) => lines.push(`ERROR ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    info: (m) => lines.push(`INFO ${m}`),
    debug: () => {},
    child: () => log,
  };
  return { log, lines };
}

function setup(clock: FakeClock, o: Partial<PartySchedulerOptions>, result: (c: Command) => IssueResult = () => ({ ok: true })) {
  const issued: Issued[] = [];
  const { log, lines } = logCapture();
  const scheduler = new PartyScheduler({
    tz: 'UTC',
    wallNow: () => wallMs(clock.wall),
    sharedNow: () => sharedMs(clock.shared),
    timers: clock,
    issue: (command, at) => {
      issued.push({ command, at, wall: clock.wall, shared: clock.shared });
      return result(command);
    },
    log,
    ...o,
  });
  return { scheduler, issued, lines };
}

/** The shared instant that corresponds to wall instant `iso` under the clocks' current mapping. */
const sharedFor = (clock: FakeClock, iso: string): number => clock.shared + (Date.parse(iso) - clock.wall);

describe('PartyScheduler', () => {
  it('issues PLAY from track 1 lead ahead, effective at the shared instant of the wall-clock time', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler, issued, lines } = setup(clock, { startAt: '20:00', leadMs: 5000 });
    scheduler.start();
    expect(scheduler.next()).toEqual({ nextStart: new Date('2026-11-21T20:00:00Z'), nextStop: null });
    expect(lines).toContain('INFO next start: Sat 2026-11-21 20:00:00 UTC (in 2 h 24 min)');
    const expectedAt = sharedFor(clock, '2026-11-21T20:00:00Z');

    clock.advanceTo('2026-11-21T19:59:54.999Z');
    expect(issued).toHaveLength(0);
    clock.advanceTo('2026-11-21T19:59:55.000Z');
    expect(issued).toHaveLength(1);
    expect(issued[0]!.command).toEqual({ kind: 'play', trackIndex: 0 });
    expect(issued[0]!.at).toBe(expectedAt);
    expect(issued[0]!.at - issued[0]!.shared).toBe(5000);
    // issued, but still the next start until its instant has come
    expect(scheduler.next()).toEqual({ nextStart: new Date('2026-11-21T20:00:00Z'), nextStop: null });
    expect(lines).toContain('INFO no further scheduled start');
    clock.advanceTo('2026-11-21T20:00:00.000Z');
    // one-shot: nothing further, no timer left behind
    expect(scheduler.next()).toEqual({ nextStart: null, nextStop: null });
    clock.advance(3 * 86_400_000);
    expect(issued).toHaveLength(1);
    expect(clock.timerCount).toBe(0);
  });

  it('issues at once when less than the lead remains, still for the exact instant', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z', 42.125);
    const { scheduler, issued } = setup(clock, { startAt: '17:36:02', leadMs: 5000 });
    scheduler.start();
    expect(issued).toHaveLength(1);
    expect(issued[0]!.at).toBe(42.125 + 2000);
  });

  it('takes tomorrow when the time of day has passed, and honours the time zone', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler } = setup(clock, { startAt: '08:15:30', stopAt: '20:00', tz: 'Europe/Berlin' });
    scheduler.start();
    expect(scheduler.next()).toEqual({ nextStart: new Date('2026-11-22T07:15:30Z'), nextStop: new Date('2026-11-21T19:00:00Z') });
    scheduler.stop();
  });

  it('a cron schedule starts at every occurrence and logs the next one after each start', () => {
    const clock = new FakeClock('2026-03-20T12:00:00.000Z');
    const { scheduler, issued, lines } = setup(clock, { schedule: '0 20 * * 6', tz: 'Europe/Berlin', leadMs: 5000 });
    scheduler.start();
    expect(scheduler.next().nextStart).toEqual(new Date('2026-03-21T19:00:00Z'));
    const firstAt = sharedFor(clock, '2026-03-21T19:00:00Z');
    const secondAt = sharedFor(clock, '2026-03-28T19:00:00Z');
    const thirdAt = sharedFor(clock, '2026-04-04T18:00:00Z'); // CEST from 29 March
    clock.advanceTo('2026-04-05T00:00:00Z');
    expect(issued.map((i) => i.at)).toEqual([firstAt, secondAt, thirdAt]);
    expect(issued.every((i) => i.at - i.shared === 5000)).toBe(true);
    expect(lines.filter((l) => l.startsWith('INFO next start:'))).toEqual([
      'INFO next start: Sat 2026-03-21 20:00:00 CET (in 1 d 7 h)',
      'INFO next start: Sat 2026-03-28 20:00:00 CET (in 7 d)',
      // logged when the previous start is issued, 5 s ahead: a week less the hour the clocks skip
      'INFO next start: Sat 2026-04-04 20:00:00 CEST (in 6 d 23 h)',
      'INFO next start: Sat 2026-04-11 20:00:00 CEST (in 7 d)',
    ]);
    expect(scheduler.next().nextStart).toEqual(new Date('2026-04-11T18:00:00Z'));
    scheduler.stop();
    expect(clock.timerCount).toBe(0);
  });

  it('stops exactly at --stop-at / --stop-schedule instants', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler, issued } = setup(clock, { stopAt: '23:30', stopSchedule: '0 1 * * *', leadMs: 5000 });
    scheduler.start();
    const stopAt = sharedFor(clock, '2026-11-21T23:30:00Z');
    const stopSchedule = sharedFor(clock, '2026-11-22T01:00:00Z');
    clock.advanceTo('2026-11-22T02:00:00Z');
    expect(issued.map((i) => [i.command, i.at])).toEqual([
      [{ kind: 'stop' }, stopAt],
      [{ kind: 'stop' }, stopSchedule],
    ]);
    expect(scheduler.next()).toEqual({ nextStart: null, nextStop: new Date('2026-11-23T01:00:00Z') });
    scheduler.stop();
  });

  it('a stop that finds nothing playing is logged, not an error', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler, lines } = setup(clock, { stopAt: '18:00' }, () => ({ ok: false, error: 'already stopped' }));
    scheduler.start();
    clock.advance(3600_000);
    expect(lines).toContain('INFO scheduled stop at Sat 2026-11-21 18:00:00 UTC (--stop-at): already stopped');
    expect(lines.some((l) => l.startsWith('ERROR'))).toBe(false);
  });

  it('skips a start when the party is already playing at that instant', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const playingAt: number[] = [];
    const { scheduler, issued, lines } = setup(clock, {
      startAt: '18:00',
      isPlaying: (at) => {
        playingAt.push(at);
        return true;
      },
    });
    scheduler.start();
    const at = sharedFor(clock, '2026-11-21T18:00:00Z');
    clock.advance(3600_000);
    expect(issued).toHaveLength(0);
    expect(playingAt).toEqual([at]);
    expect(lines).toContain('INFO scheduled start at Sat 2026-11-21 18:00:00 UTC (--start-at): already playing, left as it is');
  });

  it('a start and a stop close together: the second waits until the first has taken effect', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler, issued } = setup(clock, { startAt: '18:00:00', stopAt: '18:00:02', leadMs: 5000 });
    scheduler.start();
    const start = sharedFor(clock, '2026-11-21T18:00:00Z');
    const stop = sharedFor(clock, '2026-11-21T18:00:02Z');
    clock.advanceTo('2026-11-21T18:01:00Z');
    expect(issued.map((i) => [i.command.kind, i.at])).toEqual([
      ['play', start],
      ['stop', stop],
    ]);
    // the stop went out only after the start's instant
    expect(issued[1]!.shared).toBeGreaterThan(start);
    expect(issued[1]!.shared).toBeLessThan(start + 5);
  });

  it('a start and a stop at one instant: the start is issued last, for that same instant', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler, issued } = setup(clock, { schedule: '0 20 * * *', stopSchedule: '0 20 * * *', leadMs: 5000 });
    scheduler.start();
    const at = sharedFor(clock, '2026-11-21T20:00:00Z');
    clock.advanceTo('2026-11-21T20:01:00Z');
    expect(issued.map((i) => [i.command.kind, i.at, i.at - i.shared])).toEqual([
      ['stop', at, 5000],
      ['play', at, 5000],
    ]);
    scheduler.stop();
  });

  it('re-evaluates after the wall clock is stepped back between arming and firing', () => {
    const clock = new FakeClock('2026-11-21T19:00:00.000Z');
    const { scheduler, issued } = setup(clock, { startAt: '20:00', leadMs: 5000 });
    scheduler.start();
    clock.advance(30 * 60_000); // 19:30
    clock.stepWall(-10 * 60_000); // NTP: it is really 19:20
    // At the monotonic instant originally armed for (19:59:55 on the old mapping), nothing is issued.
    clock.advance(30 * 60_000 - 5000);
    expect(issued).toHaveLength(0);
    clock.advance(10 * 60_000);
    expect(issued).toHaveLength(1);
    // issued 5 s before 20:00 on the stepped clock, for the instant that is 20:00 on it
    expect(clock.wall).toBe(Date.parse('2026-11-21T19:59:55Z'));
    expect(issued[0]!.wall).toBe(Date.parse('2026-11-21T19:59:55Z'));
    expect(issued[0]!.at).toBe(issued[0]!.shared + 5000);
  });

  it('re-evaluates after the wall clock is stepped forward, within one slice', () => {
    const clock = new FakeClock('2026-11-21T19:00:00.000Z');
    const { scheduler, issued } = setup(clock, { startAt: '20:00', leadMs: 5000, sliceMs: 60_000 });
    scheduler.start();
    clock.advance(30 * 60_000); // 19:30
    clock.stepWall(20 * 60_000); // it is really 19:50
    clock.advance(9 * 60_000); // 19:59 on the new clock: the start has not been issued early
    expect(issued).toHaveLength(0);
    clock.advance(60_000);
    expect(issued).toHaveLength(1);
    expect(issued[0]!.wall).toBe(Date.parse('2026-11-21T19:59:55Z'));
    expect(issued[0]!.at).toBe(issued[0]!.shared + 5000);
  });

  it('remaps the wall instant right before issuing (a step in the last moments)', () => {
    const clock = new FakeClock('2026-11-21T19:59:00.000Z');
    const { scheduler, issued } = setup(clock, { startAt: '20:00', leadMs: 5000 });
    scheduler.start();
    clock.advance(50_000); // 19:59:50, the next wake-up is armed for 19:59:55
    clock.stepWall(3000); // stepped 3 s forward: wakes at 19:59:58 on the new clock
    clock.advance(5000);
    expect(issued).toHaveLength(1);
    expect(issued[0]!.wall).toBe(Date.parse('2026-11-21T19:59:58Z'));
    expect(issued[0]!.at).toBe(issued[0]!.shared + 2000);
  });

  it('a clock step past the instant skips it with a warning instead of firing late', () => {
    const clock = new FakeClock('2026-11-21T19:00:00.000Z');
    const { scheduler, issued, lines } = setup(clock, { startAt: '20:00', schedule: '30 20 * * *', leadMs: 5000 });
    scheduler.start();
    clock.advance(10 * 60_000);
    clock.stepWall(55 * 60_000); // 20:05: 20:00 passed unseen
    clock.advance(60_000); // noticed at the next wake-up, at most a slice (1 min) later
    expect(issued).toHaveLength(0);
    expect(lines.some((l) => /^WARN missed the start at Sat 2026-11-21 20:00:00 UTC by 6 min .*: skipped$/.test(l)), lines.join('\n')).toBe(true);
    // the recurring one is still ahead and still fires on time
    clock.advanceTo('2026-11-21T20:31:00Z');
    expect(issued).toHaveLength(1);
    expect(issued[0]!.wall).toBe(Date.parse('2026-11-21T20:29:55Z'));
  });

  it('a suspend across the instant does not fire it on resume, and the next occurrence is kept', () => {
    const clock = new FakeClock('2026-11-21T19:50:00.000Z');
    const { scheduler, issued, lines } = setup(clock, { schedule: '0 20 * * *', leadMs: 5000 });
    scheduler.start();
    clock.advance(5 * 60_000); // 19:55
    clock.suspend(2 * 3600_000); // asleep until 21:55; monotonic time stood still
    clock.advance(60_000);
    expect(issued).toHaveLength(0);
    expect(lines.some((l) => l.startsWith('WARN missed the start at Sat 2026-11-21 20:00:00 UTC'))).toBe(true);
    expect(scheduler.next().nextStart).toEqual(new Date('2026-11-22T20:00:00Z'));
    clock.advanceTo('2026-11-22T20:00:00Z');
    expect(issued).toHaveLength(1);
  });

  it('waits longer than setTimeout can, in chained timers', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    // once a year; slices as long as setTimeout allows
    const { scheduler, issued } = setup(clock, { schedule: '0 0 1 1 *', leadMs: 5000, sliceMs: Number.MAX_SAFE_INTEGER });
    scheduler.start();
    const at = sharedFor(clock, '2027-01-01T00:00:00Z');
    expect(at - clock.shared).toBeGreaterThan(MAX_TIMEOUT_MS);
    clock.advanceTo('2027-01-01T00:01:00Z');
    expect(issued.map((i) => i.at)).toEqual([at]);
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(MAX_TIMEOUT_MS);
    scheduler.stop();
  });

  it('a timer that fires a moment early, while the wall clock ticks on, still fires the start', () => {
    // Node's timers count on the loop's cached monotonic clock, the schedule on the wall clock:
    // a timer routinely wakes up to 1 ms early by the wall clock, and the wall clock can tick
    // between two readings of it in one wake-up.
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    let early = true;
    const { scheduler, issued } = setup(clock, {
      startAt: '17:36:15',
      leadMs: 5000,
      wallNow: () => {
        // from the first wake-up on: 1 ms behind at first, then every later reading 1 ms on
        if (clock.shared <= 1_000_000.25) return wallMs(clock.wall);
        if (early) {
          early = false;
          return wallMs(clock.wall - 1);
        }
        return wallMs(clock.wall);
      },
    });
    scheduler.start();
    clock.advance(10_000); // the wake-up 10 s later: 1 ms short of the lead by the first reading
    expect(early).toBe(false);
    expect(issued).toHaveLength(0);
    clock.advance(10_000);
    expect(issued).toHaveLength(1);
    expect(issued[0]!.at).toBe(sharedFor(clock, '2026-11-21T17:36:15Z'));
    expect(clock.timerCount).toBe(0);
  });

  it('stop() cancels everything', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    const { scheduler, issued } = setup(clock, { startAt: '18:00', schedule: '* * * * *' });
    scheduler.start();
    scheduler.stop();
    clock.advance(86_400_000);
    expect(issued).toHaveLength(0);
    expect(clock.timerCount).toBe(0);
  });

  it('rejects bad flags when constructed', () => {
    const clock = new FakeClock('2026-11-21T17:36:00.000Z');
    expect(() => setup(clock, { startAt: '25:00' })).toThrow('--start-at 25:00: hours are 0–23');
    expect(() => setup(clock, { schedule: '0 20 * *' })).toThrow(/--schedule: invalid cron expression/);
    expect(() => setup(clock, { startAt: '20:00', tz: 'Atlantis/Capital' })).toThrow(/unknown time zone/);
  });

  describe('with the default (real) timers and Date.now', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('issues lead ahead for the exact instant', () => {
      vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      vi.setSystemTime(new Date('2026-11-21T17:36:00.000Z'));
      const sharedOffset = 123_456.5;
      const issued: { at: number; shared: number }[] = [];
      const { log } = logCapture();
      const scheduler = new PartyScheduler({
        startAt: '17:40',
        tz: 'UTC',
        leadMs: 5000,
        sharedNow: () => sharedMs(Date.now() - sharedOffset),
        issue: (_c, at) => {
          issued.push({ at, shared: Date.now() - sharedOffset });
          return { ok: true };
        },
        log,
      });
      scheduler.start();
      vi.advanceTimersByTime(4 * 60_000 - 5001);
      expect(issued).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(issued).toEqual([{ at: Date.parse('2026-11-21T17:40:00Z') - sharedOffset, shared: Date.parse('2026-11-21T17:39:55Z') - sharedOffset }]);
      scheduler.stop();
    });
  });
});
