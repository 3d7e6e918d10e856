/** Calibration math: offsets from arrivals, the reference, refusals, dry runs, schedules, repeats. */
import { describe, expect, it } from 'vitest';
import { CalibrateError, formatReport, selectMembers, type CalibrationReport } from '../../src/calibrate/calibrate-command.js';
import { combineSweeps, planOffsets, scheduleSweeps, sweepSpacingMs, type MemberMeasurement } from '../../src/calibrate/calibration.js';

const m = (member: string, arrivalMs: number, currentOffsetMs: number | null = 0, extra: Partial<MemberMeasurement> = {}): MemberMeasurement => ({
  member,
  arrivalMs,
  currentOffsetMs,
  confidenceDb: 60,
  ok: true,
  ...extra,
});

describe('planOffsets', () => {
  it('adds to each offset how much later than the earliest member it is heard', () => {
    const plan = planOffsets([m('a', 12.5), m('b', 4), m('c', 30.25)]);
    expect(plan.reference).toBe('b');
    expect(plan.referenceArrivalMs).toBe(4);
    expect(plan.allMeasured).toBe(true);
    const by = Object.fromEntries(plan.entries.map((e) => [e.member, e]));
    expect(by.a).toMatchObject({ status: 'apply', relativeArrivalMs: 8.5, newOffsetMs: 8.5, changeMs: 8.5, reference: false });
    expect(by.b).toMatchObject({ status: 'apply', relativeArrivalMs: 0, newOffsetMs: 0, changeMs: 0, reference: true });
    expect(by.c).toMatchObject({ status: 'apply', relativeArrivalMs: 26.25, newOffsetMs: 26.25, changeMs: 26.25 });
  });

  it('builds on the offsets in force, and never asks anyone to play later than now', () => {
    const plan = planOffsets([m('a', 3, 40), m('b', 10, -5), m('c', 2.5, 100)]);
    expect(plan.reference).toBe('c');
    const by = Object.fromEntries(plan.entries.map((e) => [e.member, e]));
    expect(by.a).toMatchObject({ newOffsetMs: 40.5, changeMs: 0.5 });
    expect(by.b).toMatchObject({ newOffsetMs: 2.5, changeMs: 7.5 });
    expect(by.c).toMatchObject({ newOffsetMs: 100, changeMs: 0 });
    for (const e of plan.entries) expect(e.changeMs!).toBeGreaterThanOrEqual(0);
  });

  it('lines the members up: after applying, hidden latency minus offset is the same for all', () => {
    // a_i = h_i − L_i + c, with h the latency nobody sees, L the offset in force, c the capture path.
    const hidden = [7.5, 23, 52.083, 180];
    const offsets = [0, 10, -3, 150];
    const c = 4.2;
    const plan = planOffsets(hidden.map((h, i) => m(`m${i}`, h - offsets[i]! + c, offsets[i]!)));
    const residual = plan.entries.map((e, i) => hidden[i]! - e.newOffsetMs!);
    for (const r of residual) expect(r).toBeCloseTo(residual[0]!, 6);
    // The reference is the member heard first; it keeps its offset.
    const first = plan.entries.find((e) => e.reference)!;
    expect(first.changeMs).toBe(0);
  });

  it('refuses untrusted measurements, keeps their offsets, and leaves them out of the reference', () => {
    const plan = planOffsets([
      m('a', 20),
      m('b', NaN, 0, { ok: false, reason: 'the test signal was not heard', confidenceDb: 9 }),
      // An earlier but untrusted arrival must not become the reference.
      m('c', 1, 0, { ok: false, reason: 'two comparable arrivals 3.1 ms apart' }),
      m('d', 25, 5),
    ]);
    expect(plan.reference).toBe('a');
    expect(plan.allMeasured).toBe(false);
    const by = Object.fromEntries(plan.entries.map((e) => [e.member, e]));
    expect(by.b).toMatchObject({ status: 'refused', newOffsetMs: null, changeMs: null, reason: 'the test signal was not heard' });
    expect(by.b!.relativeArrivalMs).toBeNaN();
    expect(by.c).toMatchObject({ status: 'refused', newOffsetMs: null, reason: 'two comparable arrivals 3.1 ms apart' });
    expect(by.a).toMatchObject({ status: 'apply', newOffsetMs: 0, reference: true });
    expect(by.d).toMatchObject({ status: 'apply', newOffsetMs: 10, changeMs: 5 });
  });

  it('dry run: measured, nothing marked to apply', () => {
    const plan = planOffsets([m('a', 1), m('b', 3), m('c', NaN, 0, { ok: false, reason: 'too noisy' })], { dryRun: true });
    expect(plan.entries.map((e) => e.status)).toEqual(['measured', 'measured', 'refused']);
    expect(plan.entries[1]).toMatchObject({ newOffsetMs: 2, changeMs: 2 });
  });

  it('nobody measured: no reference, nothing to apply', () => {
    const plan = planOffsets([m('a', NaN, 0, { ok: false, reason: 'x' }), m('b', NaN, 0, { ok: false, reason: 'y' })]);
    expect(plan.reference).toBeNull();
    expect(plan.referenceArrivalMs).toBeNaN();
    expect(plan.entries.every((e) => e.status === 'refused')).toBe(true);
    expect(plan.allMeasured).toBe(false);
    expect(planOffsets([]).allMeasured).toBe(true);
  });

  it('refuses a member whose offset in force is unknown', () => {
    const plan = planOffsets([m('a', 5), m('b', 9, null)]);
    expect(plan.entries[1]).toMatchObject({ status: 'refused', newOffsetMs: null });
    expect(plan.entries[1]!.reason).toMatch(/current latency offset is unknown/);
    expect(plan.reference).toBe('a');
  });

  it('refuses an offset beyond what the leader accepts', () => {
    const plan = planOffsets([m('a', 0), m('b', 9_999, 20)]);
    expect(plan.entries[1]).toMatchObject({ status: 'refused', newOffsetMs: null });
    expect(plan.entries[1]!.reason).toMatch(/beyond ±10000 ms/);
  });

  it('stores offsets rounded to a microsecond, without -0', () => {
    const plan = planOffsets([m('a', 1.00000049, 0), m('b', 3.1234567, -0.0000001)]);
    expect(plan.entries[0]!.newOffsetMs).toBe(0);
    expect(Object.is(plan.entries[0]!.newOffsetMs, -0)).toBe(false);
    expect(plan.entries[1]!.newOffsetMs).toBe(2.123);
    expect(plan.entries[1]!.changeMs).toBe(2.123);
  });
});

describe('schedule', () => {
  it('spaces sweeps by the sweep, twice the window and quiet', () => {
    expect(sweepSpacingMs(1500, 300)).toBe(2500);
    expect(sweepSpacingMs(1500, 1000)).toBe(3900);
  });

  it('plays the members in turn, round after round', () => {
    const s = scheduleSweeps(3, 2, 1000, 2500, 7000);
    expect(s.map((x) => [x.member, x.round, x.atMs])).toEqual([
      [0, 0, 1000],
      [1, 0, 3500],
      [2, 0, 6000],
      [0, 1, 8500],
      [1, 1, 11000],
      [2, 1, 13500],
    ]);
  });

  it('keeps one member’s sweeps at least the minimum period apart when there are few members', () => {
    const s = scheduleSweeps(1, 3, 0, 2500, 7500);
    expect(s.map((x) => x.atMs)).toEqual([0, 7500, 15000]);
  });
});

describe('combineSweeps', () => {
  const ok = (arrivalMs: number, confidenceDb = 50) => ({ ok: true, arrivalMs, confidenceDb });
  const bad = (reason: string) => ({ ok: false, arrivalMs: NaN, confidenceDb: 8, reason });

  it('one sweep: itself', () => {
    expect(combineSweeps([ok(3.2)])).toMatchObject({ ok: true, arrivalMs: 3.2, spreadMs: 0, confidenceDb: 50 });
    expect(combineSweeps([bad('not heard')])).toMatchObject({ ok: false, reason: 'not heard' });
  });

  it('repeats: the median, the weakest confidence', () => {
    expect(combineSweeps([ok(3.2, 60), ok(3.9, 45), ok(3.4, 70)])).toMatchObject({ ok: true, arrivalMs: 3.4, confidenceDb: 45 });
    expect(combineSweeps([ok(3.2), ok(3.8)]).arrivalMs).toBeCloseTo(3.5, 9);
    expect(combineSweeps([ok(3.2), ok(3.8)]).spreadMs).toBeCloseTo(0.6, 9);
  });

  it('repeats that disagree are not trusted', () => {
    const r = combineSweeps([ok(3.2), ok(3.4), ok(13.4)], 1);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/timing varied by 10\.20 ms between sweeps/);
  });

  it('with repeats, one failed sweep is tolerated, more are not', () => {
    expect(combineSweeps([ok(3.2), bad('noise'), ok(3.3)])).toMatchObject({ ok: true });
    const r = combineSweeps([ok(3.2), bad('a cough'), bad('a door')]);
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('2 of 3 sweeps failed: a cough');
  });
});

describe('selectMembers', () => {
  const s = (name: string, connected = true) => ({ name, connected, latencyOffsetMs: 0, playerState: 'idle' });

  it('takes every connected member by default', () => {
    expect(selectMembers([s('a'), s('b', false), s('c')], []).map((x) => x.name)).toEqual(['a', 'c']);
  });

  it('takes the named ones, and names the problem when one is missing', () => {
    expect(selectMembers([s('a'), s('b')], ['b']).map((x) => x.name)).toEqual(['b']);
    expect(() => selectMembers([s('a'), s('b', false)], ['b'])).toThrow(/member "b" is not connected to the leader right now \(connected: a\)/);
    expect(() => selectMembers([s('a')], ['zed'])).toThrow(/member "zed" is unknown to the leader/);
    expect(() => selectMembers([], [])).toThrow(CalibrateError);
  });
});

describe('formatReport', () => {
  it('shows arrival, confidence, offset change, the reference and refusals with their reasons', () => {
    const report: CalibrationReport = {
      leader: '127.0.0.1:7655',
      dryRun: false,
      reference: 'a',
      captureTool: 'parec',
      input: null,
      capture: { measuredRate: 48000, seconds: 10 },
      ok: false,
      members: [
        { member: 'a', status: 'applied', arrivalMs: 0, confidenceDb: 61.2, snrDb: 30, rawArrivalMs: 3, spreadMs: null, sweepsMs: [], currentOffsetMs: 0, newOffsetMs: 0, changeMs: 0, reference: true },
        { member: 'tv', status: 'applied', arrivalMs: 84.25, confidenceDb: 48, snrDb: 20, rawArrivalMs: 87.25, spreadMs: null, sweepsMs: [], currentOffsetMs: 10, newOffsetMs: 94.25, changeMs: 84.25, reference: false },
        { member: 'bt', status: 'refused', arrivalMs: null, confidenceDb: 9.5, snrDb: null, rawArrivalMs: null, spreadMs: null, sweepsMs: [], currentOffsetMs: 0, newOffsetMs: null, changeMs: null, reference: false, reason: 'the test signal was not heard' },
      ],
    };
    const text = formatReport(report);
    expect(text).toMatch(/a\s+\+0\.00 ms\s+61\.2 dB\s+0\.00 → 0\.00 \(\+0\.00\)\s+\[reference\]\s+stored/);
    expect(text).toMatch(/tv\s+\+84\.25 ms\s+48\.0 dB\s+10\.00 → 94\.25 \(\+84\.25\)\s+stored/);
    expect(text).toMatch(/bt .*not measured: the test signal was not heard/);
    expect(text).toMatch(/Some members could not be measured/);
  });
});
