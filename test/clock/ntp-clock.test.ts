import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { localMs, sharedMs } from '../../src/clock/time.js';
import { NtpClock, parseNtpServer, type NtpClockOptions } from '../../src/clock/ntp-clock.js';
import { NtpError, type NtpExchange, type SntpQueryOptions } from '../../src/clock/sntp-client.js';
import { seededRandom } from '../../bench/seeded-random.js';

describe('parseNtpServer', () => {
  it('parses host, host:port and IPv6 forms', () => {
    expect(parseNtpServer('pool.ntp.org')).toEqual({ host: 'pool.ntp.org', port: 123 });
    expect(parseNtpServer(' time.example.com:11123 ')).toEqual({ host: 'time.example.com', port: 11123 });
    expect(parseNtpServer('192.168.1.10')).toEqual({ host: '192.168.1.10', port: 123 });
    expect(parseNtpServer('127.0.0.1:1')).toEqual({ host: '127.0.0.1', port: 1 });
    expect(parseNtpServer('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
    expect(parseNtpServer('[2001:db8::1]')).toEqual({ host: '2001:db8::1', port: 123 });
    expect(parseNtpServer('2001:db8::1')).toEqual({ host: '2001:db8::1', port: 123 });
  });

  it('rejects bad input with a message that shows the expected form', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['host:', /port "" .* not a number/],
      [':123', /missing host/],
      ['host:12x', /not a number/],
      ['host:0', /out of range/],
      ['host:65536', /out of range/],
      ['host:-1', /not a number/],
      ['[::1', /without "\]"/],
      ['[::1]123', /unexpected "123"/],
      ['[host]:123', /not an IPv6/],
      ['ntp://pool.ntp.org', /URL/],
      ['bad host', /whitespace/],
      ['bad/host', /not a valid host/],
    ];
    for (const [input, re] of cases) {
      expect(() => parseNtpServer(input), input).toThrow(re);
      expect(() => parseNtpServer(input), input).toThrow(/HOST:PORT|1–65535/);
    }
  });

  it('is used by the constructor', () => {
    expect(() => new NtpClock({ server: 'x:99999' })).toThrow(/out of range/);
    expect(new NtpClock({ server: 'x:5' }).serverName).toBe('x:5');
  });
});

/** Small seeded PRNG (mulberry32), uniform in [0, 1). */
const mulberry32 = seededRandom;

/**
 * A simulated NTP server whose UTC relates to our local (monotonic) clock as
 * utc(l) = U0 + (l − L0)·(1 + skew) + jump, with exponential queueing jitter on each leg.
 * Time is vitest's fake clock; local() is our "monotonic" clock.
 */
class World {
  readonly L0 = 7_654_321.5;
  readonly U0 = Date.UTC(2026, 10, 21, 20, 0, 0);
  jump = 0;
  fail: NtpError | null = null;
  queries = 0;
  private readonly start = Date.now();
  private readonly rng: () => number;
  constructor(
    readonly skewPpm: number,
    readonly jitterMs = 0.3,
    seed = 1,
  ) {
    this.rng = mulberry32(seed);
  }
  local = (): number => this.L0 + (Date.now() - this.start);
  utc(l: number): number {
    return this.U0 + (l - this.L0) * (1 + this.skewPpm * 1e-6) + this.jump;
  }
  query = async (_o: SntpQueryOptions): Promise<NtpExchange> => {
    this.queries++;
    if (this.fail) throw this.fail;
    const exp = (): number => -this.jitterMs * Math.log(1 - this.rng());
    const up = 0.2 + exp();
    const down = 0.2 + exp();
    const t1 = this.local() + 0.123; // sub-ms local stamps
    const t2 = this.utc(t1 + up);
    const t3 = t2 + 0.03;
    const t4 = t1 + up + 0.03 + down;
    return {
      t1,
      t2,
      t3,
      t4,
      rttMs: up + down,
      stratum: 2,
      leap: 0,
      precision: -20,
      rootDelayMs: 4,
      rootDispersionMs: 1,
      referenceId: 'c0000201',
    };
  };
  resolve = async (host: string, port: number) => ({ host, port, address: '192.0.2.1', family: 4 as const });
}

function makeClock(world: World, opts: Partial<NtpClockOptions> = {}, logs: string[] = []): NtpClock {
  return new NtpClock({
    server: 'ntp.example:123',
    pollIntervalMs: 4000,
    samplesPerPoll: 4,
    sampleSpacingMs: 100,
    timeoutMs: 3000,
    now: world.local,
    query: world.query,
    resolve: world.resolve,
    log: (m) => logs.push(m),
    ...opts,
  });
}

async function started(clock: NtpClock): Promise<void> {
  const p = clock.start();
  await vi.advanceTimersByTimeAsync(1000);
  await p;
}

/**
 * Steps the fake clock for durationMs in stepMs increments, checking that the mapping is
 * strictly increasing and never changes rate by more than maxRatePpm against the local clock.
 * Returns the last |nowUtcMs − true UTC|.
 */
async function watch(
  clock: NtpClock,
  world: World,
  durationMs: number,
  maxRatePpm: number,
  stepMs = 50,
  each?: (errMs: number) => void,
): Promise<number> {
  let prevL = world.local();
  let prevU = clock.nowUtcMs();
  let err = Infinity;
  for (let t = 0; t < durationMs; t += stepMs) {
    await vi.advanceTimersByTimeAsync(stepMs);
    const l = world.local();
    const u = clock.nowUtcMs();
    expect(u).toBeGreaterThan(prevU);
    const ratePpm = ((u - prevU) / (l - prevL) - 1) * 1e6;
    expect(Math.abs(ratePpm)).toBeLessThan(maxRatePpm);
    err = u - world.utc(l);
    each?.(err);
    prevL = l;
    prevU = u;
  }
  return Math.abs(err);
}

describe('NtpClock (simulated server)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is not ready and refuses to map before the first sync', () => {
    const clock = makeClock(new World(0));
    expect(clock.isReady).toBe(false);
    expect(clock.offsetMs).toBe(0);
    expect(clock.errorBoundMs).toBe(Infinity);
    expect(clock.rttMs).toBe(Infinity);
    expect(clock.lastSyncAgeMs).toBeNull();
    expect(() => clock.nowUtcMs()).toThrow(/not synchronised with ntp\.example:123 yet/);
    expect(() => clock.toLocal(sharedMs(0))).toThrow(/await start/);
  });

  it('first sync: one burst, then UTC to within the error bound, on the monotonic clock', async () => {
    const world = new World(20, 0.3, 2);
    const logs: string[] = [];
    const clock = makeClock(world, {}, logs);
    await started(clock);
    expect(world.queries).toBe(4);
    expect(clock.isReady).toBe(true);
    const err = clock.nowUtcMs() - world.utc(world.local());
    expect(Math.abs(err)).toBeLessThan(clock.errorBoundMs + 0.01);
    expect(clock.errorBoundMs).toBeLessThan(1);
    expect(clock.rttMs).toBeGreaterThanOrEqual(0.4);
    expect(clock.offsetMs).toBeCloseTo(world.utc(world.local()) - world.local(), 0);
    expect(clock.lastSyncAgeMs!).toBeGreaterThanOrEqual(0);
    expect(clock.serverStratum).toBe(2);
    expect(clock.serverRootDistanceMs).toBe(3);
    expect(logs.join('\n')).toMatch(/synchronised with ntp\.example:123 \(stratum 2/);
    clock.stop();
  });

  it('mapping is monotonic and smooth across polls, and converges on the skew', async () => {
    const world = new World(40, 0.5, 3);
    const clock = makeClock(world);
    await started(clock);
    // Rate relative to the local clock: true skew 40 ppm plus at most the 200 ppm slew (and
    // a skew estimate that is still settling).
    await watch(clock, world, 60_000, 40 + 200 + 60);
    const err = await watch(clock, world, 60_000, 40 + 200 + 20);
    expect(err).toBeLessThan(0.5);
    expect(clock.skewPpm).toBeGreaterThan(30);
    expect(clock.skewPpm).toBeLessThan(50);
    expect(world.queries).toBeGreaterThan(100);
    expect(clock.lastSyncAgeMs!).toBeLessThan(4500);
    clock.stop();
  });

  it('slews a change of the server clock below the step threshold instead of jumping', async () => {
    const world = new World(0, 0.2, 4);
    const logs: string[] = [];
    const clock = makeClock(world, {}, logs);
    await started(clock);
    await watch(clock, world, 10_000, 250);
    world.jump = 10; // the server's clock moves by 10 ms
    let maxErr = 0;
    let sawBound = false;
    // 10 ms at 200 ppm takes 50 s; no single step of the output on the way.
    await watch(clock, world, 40_000, 200 + 30, 50, (e) => {
      maxErr = Math.max(maxErr, Math.abs(e));
      if (Math.abs(e) > 3 && clock.errorBoundMs >= Math.abs(e) - 0.5) sawBound = true;
    });
    expect(maxErr).toBeGreaterThan(2); // still slewing: it did not jump
    expect(sawBound).toBe(true); // and errorBoundMs said so
    const err = await watch(clock, world, 30_000, 250);
    expect(err).toBeLessThan(0.5);
    expect(logs.join('\n')).not.toMatch(/stepping/);
    clock.stop();
  });

  it('steps (and says so) when the server clock moves by more than the step threshold', async () => {
    const world = new World(0, 0.2, 5);
    const logs: string[] = [];
    const clock = makeClock(world, {}, logs);
    await started(clock);
    await vi.advanceTimersByTimeAsync(5000);
    world.jump = 1000;
    await vi.advanceTimersByTimeAsync(3 * 4000 + 1000);
    expect(Math.abs(clock.nowUtcMs() - world.utc(world.local()))).toBeLessThan(1);
    expect(logs.join('\n')).toMatch(/moved by 1000\.\d ms .*stepping/);
    clock.stop();
  });

  it('toLocal inverts toShared, also inside a slew', async () => {
    const world = new World(-30, 0.2, 6);
    const clock = makeClock(world);
    await started(clock);
    world.jump = 5;
    await vi.advanceTimersByTimeAsync(4000 * 3 + 500);
    const l0 = world.local();
    for (const dl of [-50_000, -1000, -0.5, 0, 0.5, 1000, 10_000, 24_000, 26_000, 100_000, 1e7]) {
      const l = l0 + dl;
      expect(Math.abs(clock.toLocal(clock.toShared(localMs(l))) - l), `dl=${dl}`).toBeLessThan(5e-4); // UTC ms ~1.8e12: a double resolves 0.24 µs
    }
    clock.stop();
  });

  it('start() rejects after timeoutMs with what to check when nothing answers', async () => {
    const world = new World(0);
    world.fail = new NtpError('REFUSED', 'connection refused by 192.0.2.1:123: nothing listens on that UDP port');
    const clock = makeClock(world, { timeoutMs: 2000, sampleSpacingMs: 300 });
    const t0 = world.local();
    let rejectedAt = NaN;
    const p = clock.start().catch((e: unknown) => {
      rejectedAt = world.local();
      throw e;
    });
    const assertion = expect(p).rejects.toThrow(
      /NTP server ntp\.example:123 gave no usable time in 2\.0 s \(7 requests\): connection refused .* Check the port/,
    );
    await vi.advanceTimersByTimeAsync(5000);
    await assertion;
    expect(rejectedAt - t0).toBeLessThanOrEqual(2000);
    expect(rejectedAt - t0).toBeGreaterThanOrEqual(1900);
    expect(clock.isReady).toBe(false);
  });

  it('a last request cut short by the deadline does not hide the refusal before it', async () => {
    // On loopback the ICMP refusal of the last request can arrive after its shortened wait ends.
    const world = new World(0);
    const refused = new NtpError('REFUSED', 'connection refused by 192.0.2.1:123: nothing listens on that UDP port');
    const query = async (o: SntpQueryOptions): Promise<NtpExchange> => {
      world.queries++;
      if ((o.timeoutMs ?? 2000) < 2000) throw new NtpError('TIMEOUT', `no reply within ${o.timeoutMs} ms`);
      throw refused;
    };
    const clock = makeClock(world, { timeoutMs: 2000, sampleSpacingMs: 300, replyTimeoutMs: 2000, query });
    const assertion = expect(clock.start()).rejects.toThrow(/nothing listens .* Check the port/);
    await vi.advanceTimersByTimeAsync(5000);
    await assertion;
    expect(world.queries).toBeGreaterThan(1);
  });

  it('a timeout is still reported when timeouts are all there is', async () => {
    const world = new World(0);
    const query = async (o: SntpQueryOptions): Promise<NtpExchange> => {
      world.queries++;
      throw new NtpError('TIMEOUT', `no reply within ${o.timeoutMs} ms`);
    };
    const clock = makeClock(world, { timeoutMs: 1000, sampleSpacingMs: 300, replyTimeoutMs: 2000, query });
    const assertion = expect(clock.start()).rejects.toThrow(/no reply within .* firewall/);
    await vi.advanceTimersByTimeAsync(3000);
    await assertion;
  });

  it('explains timeouts and unsynchronised servers', async () => {
    for (const [fail, re] of [
      [new NtpError('TIMEOUT', 'no reply'), /firewall/],
      [new NtpError('UNSYNCHRONIZED', 'not synchronised itself'), /local stratum/],
      [new NtpError('DNS', 'cannot resolve'), /host name/],
    ] as const) {
      const world = new World(0);
      world.fail = fail;
      const clock = makeClock(world, { timeoutMs: 500 });
      const assertion = expect(clock.start()).rejects.toThrow(re);
      await vi.advanceTimersByTimeAsync(1000);
      await assertion;
    }
  });

  it("start() gives up at once on a kiss-o'-death DENY", async () => {
    const world = new World(0);
    world.fail = new NtpError('KOD', `NTP server sent kiss-o'-death "DENY": the server refuses this client`, 'DENY');
    const clock = makeClock(world, { timeoutMs: 10_000 });
    const assertion = expect(clock.start()).rejects.toThrow(/DENY.*access rules/);
    await vi.advanceTimersByTimeAsync(10);
    await assertion;
    expect(world.queries).toBe(1);
  });

  it('a poll without answers keeps the estimate, logs once, and recovers', async () => {
    const world = new World(0, 0.2, 7);
    const logs: string[] = [];
    const clock = makeClock(world, {}, logs);
    await started(clock);
    world.fail = new NtpError('TIMEOUT', 'no reply from NTP server 192.0.2.1:123 within 2000 ms');
    await vi.advanceTimersByTimeAsync(3 * 4500);
    expect(logs.filter((m) => /no valid reply/.test(m))).toHaveLength(1);
    expect(clock.lastSyncAgeMs!).toBeGreaterThan(10_000);
    expect(Math.abs(clock.nowUtcMs() - world.utc(world.local()))).toBeLessThan(1);
    world.fail = null;
    await vi.advanceTimersByTimeAsync(4500);
    expect(logs.at(-1)).toMatch(/answers again/);
    expect(clock.lastSyncAgeMs!).toBeLessThan(4500);
    clock.stop();
  });

  it("backs off on kiss-o'-death RATE", async () => {
    const world = new World(0);
    const logs: string[] = [];
    const clock = makeClock(world, {}, logs);
    await started(clock);
    world.fail = new NtpError('KOD', 'rate', 'RATE');
    await vi.advanceTimersByTimeAsync(4100);
    expect(logs.at(-1)).toMatch(/poll less often.*every 8 s/);
    const q = world.queries;
    await vi.advanceTimersByTimeAsync(7000);
    expect(world.queries).toBe(q);
    await vi.advanceTimersByTimeAsync(1500);
    expect(world.queries).toBe(q + 1);
    clock.stop();
  });

  it('stop() ends polling', async () => {
    const world = new World(0);
    const clock = makeClock(world);
    await started(clock);
    clock.stop();
    const q = world.queries;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(world.queries).toBe(q);
    expect(clock.isReady).toBe(true); // keeps mapping with the last estimate
  });
});
