/**
 * A seeded, simulated noisy link between a member and its leader, exchanging time on the member's
 * schedule (a chain every 1/hz s: each request sent as the previous reply arrives, until the next
 * chain is due or `chainLength` were sent). Each one-way delay is floorMs + uniform(0, jitterMs) +
 * exponential(blurMs) — the exponential stands for the scheduling delays (proxy, event loops) that
 * blur the floor on a real machine — and each direction stalls now and then (nothing passes for
 * stallMs; a stall is Poisson with stallsPerSec). The leader's clock runs skewPpm fast and
 * offsetMs ahead. Returns the estimator's error on a 100 ms grid of member time.
 */
import { seededRandom } from '../../bench/seeded-random.js';
import { OffsetEstimator, type ClockSample, type OffsetEstimatorOptions } from '../../src/clock/offset-estimator.js';
import { localMs } from '../../src/clock/time.js';

export interface NoisyLink {
  seed: number;
  seconds: number;
  /** chains a second */
  hz: number;
  chainLength?: number;
  skewPpm?: number;
  offsetMs?: number;
  floorMs?: number;
  jitterMs?: number;
  blurMs?: number;
  stallsPerSec?: number;
  stallMs?: number;
  estimator?: OffsetEstimatorOptions;
}

export interface GridError {
  /** seconds since the first exchange */
  sinceS: number;
  /** estimated − true shared time, ms */
  errMs: number;
}

export function noisyLinkErrors(link: NoisyLink): { grid: GridError[]; estimator: OffsetEstimator } {
  const rnd = seededRandom(link.seed);
  const k = (link.skewPpm ?? 0) * 1e-6;
  const L0 = 1_000_000;
  const off = link.offsetMs ?? 5000;
  const shared = (l: number): number => l + off + k * (l - L0);
  const local = (s: number): number => L0 + (s - off - L0) / (1 + k);
  const floor = link.floorMs ?? 10;
  const jitter = link.jitterMs ?? 20;
  const blur = link.blurMs ?? 0.3;
  const stallRate = link.stallsPerSec ?? 0.025;
  const stallMs = link.stallMs ?? 200;
  const oneWay = (): number => floor + jitter * rnd() - blur * Math.log(1 - rnd());
  // Stall windows per direction, drawn ahead as a Poisson process over the whole run.
  const stalls = (): [number, number][] => {
    const out: [number, number][] = [];
    for (let t = L0; stallRate > 0; ) {
      t += (-Math.log(1 - rnd()) / stallRate) * 1000;
      if (t > L0 + link.seconds * 1000 + 5000) break;
      out.push([t, t + stallMs]);
    }
    return out;
  };
  const upStalls = stalls();
  const downStalls = stalls();
  const release = (windows: [number, number][], t: number): number => {
    for (const [from, to] of windows) if (t >= from && t < to) return to;
    return t;
  };
  const samples: ClockSample[] = [];
  const spacing = 1000 / link.hz;
  for (let c = 0; c * spacing < link.seconds * 1000; c++) {
    const due = L0 + c * spacing;
    let t1 = due + rnd();
    for (let j = 0; j < (link.chainLength ?? 4); j++) {
      const t2 = shared(release(upStalls, t1 + oneWay()));
      const t3 = t2 + 0.01;
      const t4 = release(downStalls, local(t3) + oneWay());
      samples.push({ t1, t2, t3, t4 });
      if (t4 >= due + spacing) break;
      t1 = t4 + 0.01;
    }
  }
  samples.sort((p, q) => p.t4 - q.t4);
  const estimator = new OffsetEstimator(link.estimator);
  const grid: GridError[] = [];
  let next = L0;
  for (const s of samples) {
    for (; next < s.t4; next += 100) if (estimator.isReady) grid.push({ sinceS: (next - L0) / 1000, errMs: estimator.toShared(localMs(next)) - shared(next) });
    estimator.addSample(s);
  }
  return { grid, estimator };
}
