import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/seeded-random.js';
import { quantile } from '../../bench/stats.js';
import { SoundController } from '../../src/member/sound-controller.js';

const DT = 0.1;

/**
 * A member as measured (bench/speed-probe.ts): a speed change reaches the sound — and the reading
 * — 0.3 s later; the device plays (1 + drift) s of audio per s at speed 1; readings carry
 * Gaussian noise. Returns the TRUE error (the sound) per step and how often the speed changed.
 */
function run(update: (measured: number, dt: number) => number | 'seek', o: { drift: number; start: number; noiseSec: number; seconds: number; seed?: number }) {
  const rnd = seededRandom(o.seed ?? 5);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const pipe: number[] = Array.from({ length: 3 }, () => 1);
  let e = o.start;
  let last = 1;
  let changes = 0;
  const trueErr: number[] = [];
  for (let k = 0; k < o.seconds / DT; k++) {
    const r = update(e + o.noiseSec * gauss(), DT);
    if (r === 'seek') throw new Error('hard seek');
    if (r !== last) changes++;
    last = r;
    pipe.push(r);
    const s = pipe.shift()!;
    e += (s * (1 + o.drift) - 1) * DT;
    trueErr.push(e);
  }
  return { trueErr, changes };
}

const p95 = (v: number[]): number => quantile(v.map(Math.abs), 0.95);
const speedOf = (d: ReturnType<SoundController['update']>): number | 'seek' => (d.action === 'speed' ? d.speed : 'seek');

/** The loop without what this controller adds: a plain PI on every reading (no plant model, median, deadband, step threshold or drift fit). */
const plainPi = (kp = 1, ki = 0.3): { update: (e: number, dt: number) => ReturnType<SoundController['update']> } => {
  let integral = 0;
  return {
    update: (e, dt) => {
      integral += e * dt;
      const correction = Math.min(0.005, Math.max(-0.005, kp * e + ki * integral));
      return { action: 'speed', speed: 1 - correction, predictedErrorSec: e };
    },
  };
};

describe('SoundController', () => {
  it('removes a start offset without overshoot despite the 0.3 s dead time', () => {
    const c = new SoundController();
    const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift: 0, start: 0.005, noiseSec: 0, seconds: 10 });
    expect(Math.min(...trueErr)).toBeGreaterThan(-0.0001); // never crosses by more than 0.1 ms
    expect(Math.abs(trueErr[50]!)).toBeLessThan(0.0002); // within 0.2 ms after 5 s
    expect(Math.abs(trueErr.at(-1)!)).toBeLessThan(0.00003);
  });

  it('removes a start error at the speed limit, then stops without overshoot (start transient)', () => {
    const firstWithin = (e: number[], band: number): number => e.findIndex((_, i) => e.slice(i, i + 10).every((v) => Math.abs(v) < band)) * DT;
    for (const start of [0.005, -0.012]) {
      const c = new SoundController();
      const s = new SoundController({ kpStart: 1 }); // the loop without the start transient
      const fast = run((m, dt) => speedOf(c.update(m, dt)), { drift: 0, start, noiseSec: 30e-6, seconds: 8 });
      const slow = run((m, dt) => speedOf(s.update(m, dt)), { drift: 0, start, noiseSec: 30e-6, seconds: 8 });
      // |start| / 0.5 % plus the dead time and a few readings
      expect(firstWithin(fast.trueErr, 0.00025)).toBeLessThan(Math.abs(start) / 0.005 + 0.8);
      expect(firstWithin(fast.trueErr, 0.00025)).toBeLessThan(firstWithin(slow.trueErr, 0.00025) - 1);
      expect(Math.min(...fast.trueErr.map((v) => v * Math.sign(start)))).toBeGreaterThan(-0.0001);
    }
  });

  it('the plain PI loop on the same plant overshoots (why the predictor is there)', () => {
    const c = plainPi(2.5);
    const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift: 0, start: 0.005, noiseSec: 0, seconds: 10 });
    const s = new SoundController({ kp: 2.5 });
    const mine = run((m, dt) => speedOf(s.update(m, dt)), { drift: 0, start: 0.005, noiseSec: 0, seconds: 10 });
    expect(Math.min(...trueErr)).toBeLessThan(-0.0003);
    expect(Math.min(...mine.trueErr)).toBeGreaterThan(-0.0001);
  });

  it('a start aligned before it was heard is held calmly: early readings off the sound do not drive the speed', () => {
    // The sound starts on time (error 0); its first four readings are 0.6 ms off it (as seen right
    // after the player joins a pre-roll's silence to the track), then true again.
    const biased = (c: SoundController) => {
      let k = 0;
      return run((m, dt) => speedOf(c.update(m + (k++ < 4 ? 0.0006 : 0), dt)), { drift: 0, start: 0, noiseSec: 30e-6, seconds: 6 });
    };
    const calm = new SoundController();
    calm.rearmed(1);
    calm.aligned(0);
    const transient = new SoundController();
    transient.rearmed(1);
    const a = biased(calm);
    const b = biased(transient);
    const worst = (e: number[]) => Math.max(...e.map(Math.abs));
    expect(worst(a.trueErr)).toBeLessThan(0.00015);
    expect(worst(a.trueErr)).toBeLessThan(worst(b.trueErr) / 3);
    // a start transient chases the readings' bias into the sound
    expect(worst(b.trueErr)).toBeGreaterThan(0.0004);
    // …and a real error after an aligned start is still removed (by the observer, not at once)
    const real = new SoundController();
    real.rearmed(1);
    real.aligned(0);
    const r = run((m, dt) => speedOf(real.update(m, dt)), { drift: 0, start: 0.0005, noiseSec: 30e-6, seconds: 10 });
    expect(Math.abs(r.trueErr.at(-1)!)).toBeLessThan(0.0001);
  });

  it('holds ±200 ppm drift at zero error once it has learned it', () => {
    for (const drift of [200e-6, -200e-6]) {
      const c = new SoundController();
      const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift, start: 0.002, noiseSec: 40e-6, seconds: 60 });
      const tail = trueErr.slice(-200); // the last 20 s
      expect(Math.abs(tail.reduce((a, b) => a + b, 0) / tail.length)).toBeLessThan(30e-6);
      expect(p95(tail)).toBeLessThan(80e-6);
      expect(c.learnedDrift).toBeCloseTo(drift / (1 + drift), 4);
    }
  });

  it('learns ±200 ppm within seconds of an aligned start: the sound is on time from 8 s on, under half of what an integrator (PI) leaves in 8–15 s', () => {
    for (const drift of [200e-6, -200e-6]) {
      const c = new SoundController();
      c.rearmed(1);
      c.aligned(0);
      const mine = run((m, dt) => speedOf(c.update(m, dt)), { drift, start: 0, noiseSec: 50e-6, seconds: 30 });
      const pi = plainPi(1, 0.1);
      const theirs = run((m, dt) => speedOf(pi.update(m, dt)), { drift, start: 0, noiseSec: 50e-6, seconds: 30 });
      expect(p95(mine.trueErr.slice(80))).toBeLessThan(40e-6);
      expect(p95(mine.trueErr.slice(80, 150))).toBeLessThan(p95(theirs.trueErr.slice(80, 150)) / 2);
      expect(Math.abs(c.learnedDrift - drift)).toBeLessThan(10e-6);
    }
  });

  it('learns a drift with real reading noise too (0.2–0.3 ms per reading), instead of sitting at drift × (1/kp + delay)', () => {
    for (const [drift, noiseSec] of [[800e-6, 200e-6], [-200e-6, 300e-6]] as const) {
      const c = new SoundController();
      const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift, start: 0.005, noiseSec, seconds: 60 });
      const tail = trueErr.slice(-200);
      expect(Math.abs(tail.reduce((a, b) => a + b, 0) / tail.length)).toBeLessThan(0.1 * Math.abs(drift) * 1.3);
      expect(c.learnedDrift).toBeCloseTo(drift / (1 + drift), 4);
    }
  });

  it('reading noise barely moves the sound, and the speed changes less often than with the plain loop', () => {
    const noisy = { drift: 0, start: 0, noiseSec: 50e-6, seconds: 60 };
    const c = new SoundController();
    const mine = run((m, dt) => speedOf(c.update(m, dt)), noisy);
    const old = plainPi();
    const theirs = run((m, dt) => speedOf(old.update(m, dt)), noisy);
    expect(p95(mine.trueErr.slice(100))).toBeLessThan(40e-6);
    expect(p95(mine.trueErr.slice(100))).toBeLessThan(p95(theirs.trueErr.slice(100)));
    expect(mine.changes).toBeLessThan(0.8 * theirs.changes);
  });

  it('with real reading noise (0.2 ms), the observer keeps it off the sound: a steady p95 under that of acting on each reading', () => {
    for (const seed of [1, 2, 3]) {
      const noisy = { drift: 100e-6, start: 0.003, noiseSec: 200e-6, seconds: 60, seed };
      const c = new SoundController();
      const raw = new SoundController({ observerGain: 1 }); // the estimate is each reading itself
      const mine = run((m, dt) => speedOf(c.update(m, dt)), noisy);
      const theirs = run((m, dt) => speedOf(raw.update(m, dt)), noisy);
      expect(p95(mine.trueErr.slice(-200))).toBeLessThan(0.85 * p95(theirs.trueErr.slice(-200)));
      expect(p95(mine.trueErr.slice(-200))).toBeLessThan(110e-6);
    }
  });

  it('a jump in the sound (an underrun) is a new start transient: removed at the speed limit, not at the observer\'s pace', () => {
    const c = new SoundController();
    const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift: 0, start: 0, noiseSec: 50e-6, seconds: 5 });
    expect(Math.abs(trueErr.at(-1)!)).toBeLessThan(100e-6);
    // The sound falls 8 ms behind at once.
    let e = trueErr.at(-1)! - 0.008;
    const pipe = [c.speed, c.speed, c.speed];
    let k = 0;
    for (; k < 40 && Math.abs(e) > 250e-6; k++) {
      const d = c.update(e, DT);
      pipe.push(d.action === 'speed' ? d.speed : 1);
      e += (pipe.shift()! - 1) * DT;
    }
    expect(k * DT).toBeLessThan(0.008 / 0.005 + 0.8);
  });

  it('asks for a re-arm beyond 50 ms, judged on the median (one wild reading is not enough)', () => {
    const c = new SoundController();
    expect(c.update(0.001, DT).action).toBe('speed');
    expect(c.update(0.001, DT).action).toBe('speed');
    expect(c.update(0.2, DT).action).toBe('speed');
    expect(c.update(0.2, DT).action).toBe('hard-seek');
  });
});

describe('SoundController across re-arms', () => {
  it('keeps the drift it learned (it belongs to the device) and starts the next track at that speed', () => {
    const c = new SoundController();
    run((m, dt) => speedOf(c.update(m, dt)), { drift: 150e-6, start: 0.001, noiseSec: 20e-6, seconds: 40 });
    const learned = c.learnedDrift;
    expect(learned).toBeGreaterThan(100e-6);
    c.rearmed();
    expect(c.speed).toBeCloseTo(1 - learned, 9);
    expect(c.learnedDrift).toBe(learned);
    c.reset();
    expect(c.learnedDrift).toBe(0);
    expect(c.speed).toBe(1);
  });

  it('a later start\'s error does not wind up the drift it learned: a block-late start (−10 ms) is removed without overshoot, the drift kept', () => {
    const c = new SoundController();
    // The first track: the drift is learned (and the integrator runs from then on).
    run((m, dt) => speedOf(c.update(m, dt)), { drift: 50e-6, start: 0.0005, noiseSec: 20e-6, seconds: 30 });
    const learned = c.learnedDrift;
    expect(learned).toBeGreaterThan(20e-6);
    // The next start lands a whole 10 ms block late.
    c.rearmed();
    const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift: 50e-6, start: -0.010, noiseSec: 20e-6, seconds: 12 });
    expect(Math.max(...trueErr)).toBeLessThan(0.0003); // no overshoot past 0.3 ms (wound up: ~1.5 ms)
    expect(Math.abs(trueErr[60]!)).toBeLessThan(0.00025); // within 0.25 ms 6 s after the start
    expect(Math.abs(c.learnedDrift - learned)).toBeLessThan(30e-6);
  });
});

describe('SoundController on noisy readings', () => {
  it('filters white reading noise: 0.1 ms per reading leaves the sound within 0.04 ms p95, whatever the observer gain', () => {
    // Steady state on the test plant (30 ppm of drift, from 8 s on): the noise a reading carries
    // reaches the sound only through the observer and kp, and barely. Sound errors larger than
    // this, where readings are this noisy, come from what the readings cannot see.
    for (const observerGain of [0.05, 0.15, 0.25]) {
      for (const kp of [0.5, 1]) {
        const byseed = [1, 2, 3, 4, 5].map((seed) => {
          const c = new SoundController({ observerGain, kp });
          const { trueErr } = run((m, dt) => speedOf(c.update(m, dt)), { drift: 30e-6, start: 0, noiseSec: 100e-6, seconds: 68, seed });
          return p95(trueErr.slice(80));
        });
        expect(quantile(byseed, 0.5)).toBeLessThan(40e-6);
        // and not by luck of a quiet seed: the plant's noise is there (a raw reading is 0.1 ms off)
        expect(Math.max(...byseed)).toBeGreaterThan(10e-6);
      }
    }
  });
});
