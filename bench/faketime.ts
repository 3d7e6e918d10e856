/**
 * Wrong clocks for the sync benchmark: run a member (and the mpv it starts) under libfaketime
 * (Debian packages `faketime` + `libfaketime`, 0.9.10), and know exactly what its clock reads.
 *
 * What libfaketime 0.9.10 does to the clock Node reads (measured, see bench/README.md):
 * - Node's process.hrtime / performance.now come from clock_gettime(CLOCK_MONOTONIC) through
 *   libuv, and LD_PRELOAD interposes it.
 * - With FAKETIME="+7s x1.00005" (a relative offset and a rate) the faked CLOCK_MONOTONIC is NOT
 *   the real monotonic clock plus 7 s: libfaketime takes a snapshot at start-up and then reports
 *     fake(m) = (realtime_at_start + offset) + rate·(m − m_start)
 *   for every clock, so monotonic readings jump to around the Unix epoch time (~1.8e12 ms) plus
 *   the offset, and advance at `rate` from the process's own start. Offset K = fake − m at the
 *   process's start is the same for every process (realtime − monotonic, + offset); the rate term
 *   is per process: fake(m) = m + K + (rate − 1)·(m − m_start).
 * - FAKETIME_DONT_FAKE_MONOTONIC=1 leaves CLOCK_MONOTONIC alone (only wall-clock time is faked),
 *   so the product, which never reads the wall clock for sync, is not affected at all.
 *
 * measureFakeClock() finds K and the rate with a probe process under the same settings (ping-pong
 * over a pipe, fastest exchanges); memberTransform() then places a member started at m_start on
 * it. The rate term's dependence on m_start costs (rate − 1)·(start uncertainty), < 1 µs here.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { monotonicMs } from '../src/clock/monotonic.js';

const CANDIDATES = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1', '/usr/local/lib/faketime/libfaketime.so.1'];

export function findLibfaketime(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const FAKETIME_INSTALL_HINT = 'libfaketime not found: apt-get install faketime (Debian package faketime, which pulls in libfaketime)';

export interface FakeClockSpec {
  /** libfaketime's FAKETIME value, e.g. "+7s x1.00005" or "-10s" */
  faketime: string;
  /** set FAKETIME_DONT_FAKE_MONOTONIC=1 */
  dontFakeMonotonic?: boolean;
}

export function fakeEnv(spec: FakeClockSpec, lib = findLibfaketime()): Record<string, string> {
  if (!lib) throw new Error(FAKETIME_INSTALL_HINT);
  return {
    LD_PRELOAD: lib,
    FAKETIME: spec.faketime,
    ...(spec.dontFakeMonotonic ? { FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {}),
  };
}

/** Rate requested by a FAKETIME spec ("x1.00005" → 1.00005; none → 1). */
export function specRate(faketime: string): number {
  const m = /\bx\s*([0-9.]+)/.exec(faketime);
  return m ? Number(m[1]) : 1;
}

export interface FakeClock {
  /** fake − real monotonic at a process's start, ms */
  offsetMs: number;
  /** fake clock rate against the real one (measured) */
  rate: number;
  /** rate the spec asks for */
  specRate: number;
  /** smallest probe round trip, ms (the measurement's error bound is half of it) */
  minRttMs: number;
  /** spread (std) of the fastest exchanges' offsets around the fit, ms */
  residualMs: number;
  samples: number;
}

const PROBE = `process.stdin.setEncoding('utf8');let b='';process.stdin.on('data',d=>{b+=d;let k;while((k=b.indexOf('\\n'))>=0){b=b.slice(k+1);const n=process.hrtime.bigint();process.stdout.write(String(n/1000000n)+'.'+String(n%1000000n).padStart(6,'0')+'\\n');}});`;

/**
 * Measures the fake clock a process started now under `spec` sees: K (fake − real at its start)
 * and the rate. ~`exchanges` × `gapMs` long.
 */
export async function measureFakeClock(spec: FakeClockSpec, exchanges = 400, gapMs = 5): Promise<FakeClock> {
  const env = { ...process.env, ...fakeEnv(spec) };
  const startedAt = monotonicMs();
  const child = spawn(process.execPath, ['-e', PROBE], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  let pending: ((v: number) => void) | null = null;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 1);
      const p = pending;
      pending = null;
      p?.(Number(line));
    }
  });
  const rows: { mid: number; rtt: number; fake: number }[] = [];
  try {
    for (let i = 0; i < exchanges; i++) {
      const t1 = monotonicMs();
      const v = await new Promise<number>((resolve, reject) => {
        pending = resolve;
        child.stdin!.write('p\n');
        setTimeout(() => reject(new Error('faketime probe did not answer')), 5000).unref();
      });
      const t4 = monotonicMs();
      if (i >= 5) rows.push({ mid: (t1 + t4) / 2, rtt: t4 - t1, fake: v });
      await new Promise((r) => setTimeout(r, gapMs));
    }
  } finally {
    child.kill('SIGKILL');
  }
  // Fit fake = a + rate·mid on the fastest 20 % of the exchanges.
  const fast = [...rows].sort((a, b) => a.rtt - b.rtt).slice(0, Math.max(10, Math.ceil(rows.length * 0.2)));
  const x0 = fast[0]!.mid;
  const y0 = fast[0]!.fake;
  const mx = fast.reduce((s, p) => s + (p.mid - x0), 0) / fast.length;
  const my = fast.reduce((s, p) => s + (p.fake - y0), 0) / fast.length;
  let sxy = 0;
  let sxx = 0;
  for (const p of fast) {
    sxy += (p.mid - x0 - mx) * (p.fake - y0 - my);
    sxx += (p.mid - x0 - mx) ** 2;
  }
  const sr = specRate(spec.faketime);
  // The probe lasts ~2 s: its own rate estimate is only good to ~±20 ppm under load; the spec's
  // rate is what libfaketime applies, so use it for the offset and report the measured one.
  const measuredRate = sxx > 0 ? 1 + (sxy / sxx - 1) : sr;
  // offset at the mean point, then back to the probe's start with the spec's rate
  const meanMid = x0 + mx;
  const meanFake = y0 + my;
  const offsetAtMean = meanFake - meanMid; // = K + (r − 1)(meanMid − start)
  const offsetMs = offsetAtMean - (sr - 1) * (meanMid - startedAt);
  const res = fast.map((p) => p.fake - p.mid - (offsetMs + (sr - 1) * (p.mid - startedAt)));
  const resMean = res.reduce((s, v) => s + v, 0) / res.length;
  const residualMs = Math.sqrt(res.reduce((s, v) => s + (v - resMean) ** 2, 0) / res.length);
  return { offsetMs, rate: measuredRate, specRate: sr, minRttMs: Math.min(...rows.map((r) => r.rtt)), residualMs, samples: rows.length };
}

/** The fake clock of one process started (spawned) at `startedAtMs` (real monotonic ms). */
export interface ProcessTransform {
  offsetMs: number;
  rate: number;
  startedAtMs: number;
}

export function memberTransform(clock: FakeClock, startedAtMs: number): ProcessTransform {
  return { offsetMs: clock.offsetMs, rate: clock.specRate, startedAtMs };
}

/** fake reading → real monotonic ms */
export function fakeToReal(t: ProcessTransform, fakeMs: number): number {
  // fake = m + K + (r − 1)(m − s)  ⇒  m = (fake − K + (r − 1)·s) / r
  return (fakeMs - t.offsetMs + (t.rate - 1) * t.startedAtMs) / t.rate;
}

export function realToFake(t: ProcessTransform, realMs: number): number {
  return realMs + t.offsetMs + (t.rate - 1) * (realMs - t.startedAtMs);
}
