import { describe, expect, it } from 'vitest';
import { QUICK_FIELDS, leaderToMember, memberToLeader, parseLine, quickTimeRequest, quickTimeResponse, timeReq, timeRes } from '../../src/protocol/messages.js';

// A seeded generator of time-exchange messages, well formed and not: every value the checks
// by hand must judge as the schemas do.
function* candidates(seed: number, n: number): Generator<Record<string, unknown>> {
  let x = seed >>> 0;
  const rnd = (): number => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const values: unknown[] = [0, -0, 1, -1, 7, 2 ** 31, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1.5, -0.25, 1e300, -1e-300, 123456789.123, '5', null, true, [], {}, undefined];
  const pick = (): unknown => (rnd() < 0.5 ? values[Math.floor(rnd() * values.length)] : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 16));
  for (let i = 0; i < n; i++) {
    const type = ['time-req', 'time-res', 'status', 'TIME-REQ', undefined][Math.floor(rnd() * 5)];
    const m: Record<string, unknown> = { type, id: pick(), t1: pick() };
    if (rnd() < 0.8) m.t2 = pick();
    if (rnd() < 0.8) m.t3 = pick();
    if (rnd() < 0.4) m.paceMs = rnd() < 0.5 ? [0, 1500, 60_000, 60_001, -1, 2.5, '9'][Math.floor(rnd() * 7)] : pick();
    if (rnd() < 0.2) m.extra = pick();
    if (rnd() < 0.1) delete m.id;
    // As it arrives: through JSON (no undefined values, no -0).
    yield JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  }
}

describe('the time exchange checked by hand', () => {
  it('knows every field of its schemas', () => {
    expect([...QUICK_FIELDS['time-req']].sort()).toEqual(Object.keys(timeReq.shape).sort());
    expect([...QUICK_FIELDS['time-res']].sort()).toEqual(Object.keys(timeRes.shape).sort());
  });

  it('accepts exactly what the schemas accept, with the same message', () => {
    let accepted = 0;
    for (const raw of candidates(42, 20_000)) {
      for (const [schema, quick] of [[memberToLeader, quickTimeRequest], [leaderToMember, quickTimeResponse]] as const) {
        const byHand = quick(raw);
        const bySchema = schema.safeParse(raw);
        const isTimeMessage = bySchema.success && (bySchema.data.type === 'time-req' || bySchema.data.type === 'time-res');
        expect(byHand !== null).toBe(isTimeMessage);
        if (byHand) {
          accepted++;
          expect(byHand).toStrictEqual(bySchema.data);
        }
      }
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('parseLine gives the same result for a line either way, and the schema still explains a refusal', () => {
    const line = JSON.stringify({ type: 'time-req', id: 3, t1: 12.5, extra: 'dropped' });
    expect(parseLine(memberToLeader, line)).toStrictEqual({ ok: true, message: { type: 'time-req', id: 3, t1: 12.5 } });
    expect(parseLine(leaderToMember, line)).toMatchObject({ ok: false, code: 'unknown-type' });
    expect(parseLine(memberToLeader, JSON.stringify({ type: 'time-req', id: 1.5, t1: 1 }))).toMatchObject({ ok: false, code: 'invalid-message', error: expect.stringContaining('id') });
    expect(parseLine(leaderToMember, JSON.stringify({ type: 'time-res', id: 1, t1: 1, t2: 2, t3: 3 }))).toStrictEqual({ ok: true, message: { type: 'time-res', id: 1, t1: 1, t2: 2, t3: 3 } });
  });
});
