/**
 * NtpClock against a real NTP server on loopback: chronyd (Debian package `chrony`), run in the
 * foreground with `-x` (never touches the system clock) serving the system clock at stratum 8
 * on a free UDP port of 127.0.0.1. chronyd is stopped by its PID at the end.
 *
 * chrony serves the system clock, so the NtpClock's UTC must match Date.now() (to Date.now()'s
 * 1 ms resolution plus a loopback round trip).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NtpClock } from '../../src/clock/ntp-clock.js';
import { monotonicMs } from '../../src/clock/monotonic.js';
import { sntpQuery } from '../../src/clock/sntp-client.js';

function findChronyd(): string | null {
  for (const p of ['/usr/sbin/chronyd', '/sbin/chronyd', '/usr/local/sbin/chronyd']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v chronyd'], { encoding: 'utf8' });
  const found = r.stdout?.trim();
  return r.status === 0 && found ? found : null;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CHRONYD = findChronyd();
if (!CHRONYD && process.env.CI) {
  throw new Error('chronyd not found: install the Debian package "chrony" (apt-get install -y chrony)');
}
if (!CHRONYD) console.warn('ntp integration tests skipped: chronyd not found (apt-get install -y chrony)');

describe.skipIf(!CHRONYD)('NtpClock against chronyd on loopback', () => {
  let dir = '';
  let port = 0;
  let chronyd: ChildProcess | undefined;
  let chronydLog = '';
  const clocks: NtpClock[] = [];

  const newClock = (opts: Partial<ConstructorParameters<typeof NtpClock>[0]> = {}): NtpClock => {
    const c = new NtpClock({ server: `127.0.0.1:${port}`, sampleSpacingMs: 50, samplesPerPoll: 8, ...opts });
    clocks.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncplay-chrony-'));
    port = await freeUdpPort();
    const conf = join(dir, 'chrony.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bindaddress 127.0.0.1',
        'allow 127.0.0.1',
        'local stratum 8',
        `driftfile ${join(dir, 'drift')}`,
        `pidfile ${join(dir, 'chronyd.pid')}`,
        'cmdport 0',
        'bindcmdaddress /', // no Unix command socket either (it would live in /run/chrony)
        '',
      ].join('\n'),
    );
    // -d foreground, -x never touch the system clock, -4 IPv4 only, -U/-u: run as the current
    // user (chronyd otherwise insists on root and drops to its own user).
    chronyd = spawn(CHRONYD!, ['-d', '-x', '-4', '-U', '-u', userInfo().username, '-f', conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    chronyd.stdout!.on('data', (d: Buffer) => (chronydLog += d.toString()));
    chronyd.stderr!.on('data', (d: Buffer) => (chronydLog += d.toString()));
    let exited: number | null = null;
    chronyd.on('exit', (code) => (exited = code ?? -1));

    // Ready when it answers a valid (synchronised) reply.
    const server = { host: '127.0.0.1', port, address: '127.0.0.1', family: 4 as const };
    const deadline = monotonicMs() + 15_000;
    let lastErr = '';
    for (;;) {
      if (exited !== null) throw new Error(`chronyd exited with ${exited}:\n${chronydLog}`);
      try {
        await sntpQuery({ server, timeoutMs: 500, now: monotonicMs });
        break;
      } catch (e) {
        lastErr = (e as Error).message;
      }
      if (monotonicMs() > deadline) throw new Error(`chronyd did not serve time: ${lastErr}\n${chronydLog}`);
      await sleep(100);
    }
  });

  afterAll(async () => {
    for (const c of clocks) c.stop();
    const child = chronyd;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const pidFile = join(dir, 'chronyd.pid');
      const filePid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
      if (Number.isFinite(filePid) && filePid !== child.pid) {
        console.warn(`chronyd pidfile says ${filePid}, spawned ${child.pid}; stopping the spawned one`);
      }
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('nowUtcMs() matches the system clock that chrony serves (default burst: 4 exchanges 2 s apart)', async () => {
    const clock = newClock({ sampleSpacingMs: undefined, samplesPerPoll: undefined });
    const t0 = monotonicMs();
    await clock.start();
    const startMs = monotonicMs() - t0;
    expect(startMs).toBeGreaterThan(5500);
    expect(startMs).toBeLessThan(8000);
    expect(clock.isReady).toBe(true);
    expect(clock.serverStratum).toBe(8);
    // The system clock as it stood when the sync ended, carried on the monotonic clock: what the
    // NtpClock reproduces if something outside (a VM's host) steps the wall clock after its sync,
    // which it cannot see until its next poll.
    const wallAtSync = Date.now() - monotonicMs();
    let worst = 0;
    let worstVsSync = 0;
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const utc = clock.nowUtcMs();
      const after = Date.now();
      // Date.now() truncates to the ms: true wall time is in [before, after + 1).
      const err = utc < before ? utc - before : utc > after + 1 ? utc - (after + 1) : 0;
      worst = Math.max(worst, Math.abs(err));
      worstVsSync = Math.max(worstVsSync, Math.abs(utc - (monotonicMs() + wallAtSync)) - 1);
      await sleep(5);
    }
    const wallMovedMs = Date.now() - monotonicMs() - wallAtSync;
    console.log(
      `ntp: start ${startMs.toFixed(0)} ms; vs Date.now() worst ${worst.toFixed(3)} ms beyond ms truncation; rtt ${clock.rttMs.toFixed(3)} ms, ` +
        `±${clock.errorBoundMs.toFixed(3)} ms, skew ${clock.skewPpm.toFixed(2)} ppm; system clock moved ${wallMovedMs.toFixed(1)} ms against the monotonic one meanwhile`,
    );
    // Against the system clock now, unless that clock was moved from outside after the sync:
    // then against the system clock of the sync.
    if (Math.abs(wallMovedMs) > 2) expect(worstVsSync).toBeLessThan(3);
    else expect(worst).toBeLessThan(3);
    expect(clock.rttMs).toBeLessThan(5);
    expect(clock.lastSyncAgeMs).not.toBeNull();
  });

  it('two NtpClocks agree within 1 ms, and keep agreeing across polls', async () => {
    const a = newClock({ pollIntervalMs: 500 });
    const b = newClock({ pollIntervalMs: 500 });
    await Promise.all([a.start(), b.start()]);
    let worst = 0;
    let prevA = -Infinity;
    const end = monotonicMs() + 3000; // several polls of each
    while (monotonicMs() < end) {
      const local = monotonicMs();
      const ua = a.toShared(local);
      const ub = b.toShared(local);
      worst = Math.max(worst, Math.abs(ua - ub));
      expect(ua).toBeGreaterThan(prevA);
      prevA = ua;
      expect(Math.abs(a.toLocal(ua) - local)).toBeLessThan(1e-3);
      await sleep(10);
    }
    console.log(
      `ntp: two clients, worst disagreement ${worst.toFixed(4)} ms over 3 s; rtt ${a.rttMs.toFixed(3)} / ` +
        `${b.rttMs.toFixed(3)} ms; last sync ${a.lastSyncAgeMs?.toFixed(0)} ms ago`,
    );
    expect(worst).toBeLessThan(1);
    expect(a.lastSyncAgeMs!).toBeLessThan(2000);
  });

  it('an unreachable port fails with a clear message within the timeout', async () => {
    const closed = await freeUdpPort();
    const c = newClock({ server: `127.0.0.1:${closed}`, timeoutMs: 2000 });
    const t0 = monotonicMs();
    const err = await c.start().then(
      () => null,
      (e: unknown) => e as Error,
    );
    const took = monotonicMs() - t0;
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`127.0.0.1:${closed}`);
    expect(err!.message).toMatch(/nothing listens/);
    expect(err!.message).toMatch(/Check the port/);
    expect(took).toBeGreaterThan(1500);
    expect(took).toBeLessThan(2600);
    expect(c.isReady).toBe(false);
    expect(() => c.nowUtcMs()).toThrow(/not synchronised/);
  });
});
