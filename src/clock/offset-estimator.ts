/**
 * Estimates how the leader's monotonic clock (the shared clock) relates to this member's
 * monotonic clock, from NTP-style four-timestamp exchanges.
 *
 * One exchange: the member sends at t1 (member ms), the leader receives at t2 and replies at t3
 * (leader ms), the member receives at t4 (member ms). With θ = leader − member:
 *   a = t2 − t1 = θ + up          b = t4 − t3 = down − θ
 *   θ_sample = (a − b)/2 = θ + (up − down)/2      δ = a + b = up + down (round trip)
 * Delays are never negative, so θ ∈ [−b, a]: a sample's offset error is at most δ/2.
 *
 * Clock model: offset(local) = θ0 + skew·(local − tRef), shared = local + offset(local), with tRef
 * the newest exchange's midpoint (t1 + t4)/2. Each exchange is placed at its midpoint; that a
 * really belongs to t1 and b to t4 shifts them by skew·δ/2 in opposite directions, which cancels
 * in θ and is < 0.1 µs on any exchange fast enough to matter.
 *
 * Filter (NTP's "trust the fastest exchanges", applied to each direction separately, over a
 * window of recent points):
 * - Skew. Over the window, after removing a trial skew k, every `a` is at least θ0 + min(up) and
 *   every `b` at least −θ0 + min(down). The right k makes the two lower envelopes flat, so it
 *   maximizes  f(k) = min_i(a_i − k·x_i) + min_j(b_j + k·x_j)  (concave, piecewise linear; its
 *   breakpoints are the edge slopes of the lower convex hulls of the (x, a) and (x, b) points).
 *   This fits a line under the fastest exchanges instead of through noisy ones, so queueing
 *   jitter, stalls and slow outliers (which only ever add delay) do not pull it. Clamped to
 *   ±maxSkewPpm; a flat top (too little data to decide) resolves to its middle. While the window
 *   is short (< minSkewSpanMs) and noisy, the fit is too loose to extrapolate with, so the skew
 *   is instead the value nearest 0 with f(k) ≥ 0, i.e. 0 unless the samples cannot all be
 *   explained without skew.
 * - Offset. With the skew removed, α = min(a − k·x) and β = min(b + k·x) give θ0 ∈ [−β, α]; the
 *   estimate is the middle, (α − β)/2, and errorBoundMs = (α + β)/2, which is at most half the
 *   smallest round trip (the fastest up and fastest down may come from different exchanges).
 * - Why each direction's fastest, not the fastest round trips. With one-way delays uniform in
 *   [10, 30] ms (w = 20 ms of jitter each way): a round trip δ = 20 + u + d (u, d uniform in
 *   [0, w]) has P(u + d < ε) = ε²/(2w²), so the k fastest of n exchanges have ε ≲ w·√(2k/n) and
 *   each keeps an asymmetry (u − d)/2 anywhere in ±ε/2: for n = 600 (75 s of a noisy link's
 *   exchanges), k = 1, ε ≈ 1.2 ms and the offset error up to ±0.6 ms (std 0.33); averaging the k
 *   fastest does not help (ε grows as √k, averaging gains √k). The fastest up alone exceeds its
 *   floor by about w/n (exponential, 0.03 ms for n = 600), the fastest down likewise and
 *   independently, so (α − β)/2 is off by (e_up − e_down)/2, std ≈ w/(n·√2) ≈ 0.024 ms: ten
 *   times less, and falling as 1/n where the round-trip selection falls as 1/√n. Stalls and slow
 *   exchanges only ever add delay, so they never become the fastest and need no separate refusal.
 *   Measured (bench/clock-trace.ts, recorded through bench/impair-proxy.ts): the floor is blurred
 *   by scheduling delays (proxy, event loops; positive, load-dependent), the fastest of 80
 *   exchanges sit 0.4–3 ms above it rather than w/n = 0.25 ms, and the error falls about as
 *   n^−0.8 — which is why a member exchanges more often on a noisy link (time-exchange.ts).
 * - Limit: a path slower one way than the other biases θ by (up − down)/2 and no timestamp can
 *   reveal it. Members behind the same path share the bias. Software adds such a bias too: an
 *   isolated request finds the leader's process (and CPU) asleep and its wake-up counts as up
 *   delay, while the member is still awake for the reply. Measured on one loaded 2-core machine
 *   (true θ = 0): up floors 0.2–1.0 ms against 0.17–0.5 ms down, a bias of 0.05–0.4 ms that also
 *   drifts with load and so tilts the skew fit (1–15 ppm seen with a true 0, errors to 1.4 ms).
 *   Hence LeaderLink sends chains: each request of a chain goes out as the previous reply
 *   arrives, when both ends are awake (floors 0.015–0.04 ms each way, equal within ~5 µs).
 * - Chains. An exchange sent within chainGapMs of the previous reply joins that exchange's point:
 *   a point keeps its fastest a and fastest b, each at its own exchange's midpoint, so the fit
 *   sees exactly the samples that matter, and the window and its cost scale with chains, not
 *   with exchanges. So does any exchange sent less than pointMs after its point's first one (a
 *   noisy link's exchanges come every ~21 ms): of exchanges that close together only the fastest
 *   each way can be on the envelope (a slope of ±500 ppm moves it < 0.2 ms in 400 ms).
 * - A sample whose own interval [−b, a] cannot meet the current model (plus a tolerance) is held
 *   back; stepSamples such samples in a row mean the clock relation itself changed (e.g. the
 *   leader restarted) and the window restarts from them. Path changes alone never trigger this.
 *
 * Precision: offsets may be days. Stored values are relative to the first sample's offset and
 * local time, so the fit works on numbers of the size of the delays.
 */
import { PointWindow } from './point-window.js';
import { localMs, sharedMs, type LocalMs, type SharedMs } from './time.js';

export interface ClockSample {
  /** Member local ms when the request was sent. */
  t1: number;
  /** Leader ms when the request arrived. */
  t2: number;
  /** Leader ms when the reply was sent. */
  t3: number;
  /** Member local ms when the reply arrived. */
  t4: number;
}

export interface OffsetEstimatorOptions {
  /**
   * Samples older than this (member ms before the newest one) leave the window. Default 300 000:
   * old fast exchanges stay valid evidence (only a change of skew ages them), and a longer
   * baseline pins skew down (with 10 ms of exponential jitter each way, simulated skew error p95
   * ~6 ppm with a 120 s window, < 1 ppm with 300 s).
   */
  windowMs?: number;
  /**
   * At most this many points (chains) are kept, oldest dropped first. Default 800: a whole window
   * of a noisy link's points (an exchange every ~21 ms, member/time-exchange.ts, merged to ~2.5
   * points a second by pointMs) or of a quiet link's 2 chains a second (600).
   */
  maxSamples?: number;
  /** isReady once this many exchanges have been taken (since the last restart). Default 5. */
  minSamples?: number;
  /**
   * Below this window span the skew is the smallest one the samples force (usually 0) rather
   * than the best fit, unless the path is quiet (see earlySkewMaxJitterPpm). Default 20 000.
   */
  minSkewSpanMs?: number;
  /**
   * On a short window the best-fit skew is used anyway when the round-trip jitter (median −
   * minimum) is at most this many ppm of the window span: the fit is then already good to about
   * that. Default 200 (e.g. 0.2 ms of jitter over 1 s of samples).
   */
  earlySkewMaxJitterPpm?: number;
  /** Skew is clamped to ±this. Default 500 (crystals are 20–100 ppm). */
  maxSkewPpm?: number;
  /** Slack, in ms, before a sample counts as inconsistent with the model. Default 1. */
  stepToleranceMs?: number;
  /** Extra slack per ms since the newest sample, for unknown skew error. Default 1e-4 (100 ppm). */
  stepTolerancePerMs?: number;
  /** This many inconsistent samples in a row restart the window. Default 3. */
  stepSamples?: number;
  /**
   * An exchange sent at most this long after the previous one's reply arrived continues its chain
   * and joins its point (fastest up and fastest down kept). Default 5.
   */
  chainGapMs?: number;
  /**
   * An exchange sent less than this after the first exchange of the newest point joins that point.
   * Default 400: a noisy link's ~48 exchanges a second become ~2.5 points a second (the window's size
   * and the fit's cost follow the points, not the exchanges), while 2 Hz chains stay one point each.
   */
  pointMs?: number;
}

/** How many of the newest exchanges rttSpreadMs looks at: a few seconds of any schedule. */
const RECENT_EXCHANGES = 64;

const DEFAULTS: Required<OffsetEstimatorOptions> = {
  windowMs: 300_000,
  maxSamples: 800,
  minSamples: 5,
  minSkewSpanMs: 20_000,
  earlySkewMaxJitterPpm: 200,
  maxSkewPpm: 500,
  stepToleranceMs: 1,
  stepTolerancePerMs: 1e-4,
  stepSamples: 3,
  chainGapMs: 5,
  pointMs: 400,
};

export class OffsetEstimator {
  private readonly opts: Required<OffsetEstimatorOptions>;
  /** the points, relative to the epoch (xBase, thetaBase): one exchange, or a chain of exchanges reduced to its fastest up and fastest down */
  private readonly points: PointWindow;
  /** exchanges taken since the last restart */
  private taken = 0;
  /** round trips of the newest RECENT_EXCHANGES exchanges (a ring, by `taken`) */
  private readonly recentRtt = new Float64Array(RECENT_EXCHANGES);
  private pending: ClockSample[] = [];
  private xBase = 0;
  private thetaBase = 0;
  // Fitted model, relative to the epoch: θ(x) − thetaBase = (alpha − beta)/2 + skew·(x − xRef).
  private xRef = 0;
  private skew = 0;
  private alpha = 0;
  private beta = 0;
  private readonly scratch = new FitScratch();

  constructor(options: OffsetEstimatorOptions = {}) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...defined };
    this.points = new PointWindow(this.opts.maxSamples);
  }

  /** Adds one exchange. Samples with a non-finite timestamp or a negative round trip are ignored. */
  addSample(s: ClockSample): void {
    const rtt = s.t4 - s.t1 - (s.t3 - s.t2);
    if (![s.t1, s.t2, s.t3, s.t4].every(Number.isFinite) || !(rtt >= 0)) return;
    const w = this.points;
    if (w.length === 0) {
      this.xBase = s.t1;
      this.thetaBase = (s.t2 - s.t1 + (s.t3 - s.t4)) / 2;
    }
    // The exchange relative to the epoch: its midpoint x, a = (t2 − t1) − θbase, b = (t4 − t3) + θbase.
    const x = (s.t1 + s.t4) / 2 - this.xBase;
    const a = s.t2 - s.t1 - this.thetaBase;
    const b = s.t4 - s.t3 + this.thetaBase;
    const end = s.t4 - this.xBase;
    if (w.length >= this.opts.minSamples && !this.isConsistent(x, a, b)) {
      this.pending.push(s);
      if (this.pending.length < this.opts.stepSamples) return;
      const restartFrom = this.pending;
      this.reset();
      for (const p of restartFrom) this.addSample(p);
      return;
    }
    if (this.pending.length > 0) this.pending = [];
    this.recentRtt[this.taken % RECENT_EXCHANGES] = rtt;
    this.taken += 1;
    const start = s.t1 - this.xBase;
    const last = w.length > 0 ? w.slot(w.length - 1) : -1;
    const gap = last >= 0 ? start - w.end[last]! : -1;
    const sinceStart = last >= 0 ? start - w.start[last]! : -1;
    if (last >= 0 && ((gap >= 0 && gap <= this.opts.chainGapMs) || (sinceStart >= 0 && sinceStart < this.opts.pointMs))) {
      // Sent as the previous reply arrived (the same chain), or soon after the point began: one point.
      w.x[last] = x;
      w.end[last] = end;
      if (a < w.a[last]!) {
        w.a[last] = a;
        w.xa[last] = x;
      }
      if (b < w.b[last]!) {
        w.b[last] = b;
        w.xb[last] = x;
      }
      w.rtt[last] = Math.min(w.rtt[last]!, rtt);
    } else {
      w.push(x, a, x, b, x, rtt, end, start);
    }
    this.prune(x);
    this.refit();
  }

  /** Maps a member-local time to shared (leader) time. */
  toShared(localMs: LocalMs): SharedMs {
    const tRef = this.xBase + this.xRef;
    return sharedMs(localMs + this.offsetAtRef() + this.skew * (localMs - tRef));
  }

  /** Maps a shared (leader) time to member-local time; the inverse of toShared. */
  toLocal(shared: SharedMs): LocalMs {
    const tRef = this.xBase + this.xRef;
    return localMs(tRef + (shared - this.offsetAtRef() - tRef) / (1 + this.skew));
  }

  /** Leader − member offset at a given member-local time. */
  offsetAt(localMs: number): number {
    return this.offsetAtRef() + this.skew * (localMs - (this.xBase + this.xRef));
  }

  /** Leader − member offset (ms) at the newest sample; 0 before any sample. */
  get offsetMs(): number {
    return this.offsetAtRef();
  }

  /** Leader clock rate relative to the member's, in ppm (positive: leader runs fast). */
  get skewPpm(): number {
    return this.skew * 1e6;
  }

  /** Smallest round trip in the window (Infinity when empty). */
  get rttMs(): number {
    const w = this.points;
    let min = Infinity;
    for (let i = 0; i < w.length; i++) min = Math.min(min, w.rtt[w.slot(i)]!);
    return min;
  }

  /**
   * How much the round trips of the newest exchanges (up to RECENT_EXCHANGES) spread: median minus
   * fastest, ms (0 before any). Queueing noise on the path; the member exchanges more often when
   * it is large. (Exchanges, not points: a point is already the fastest of its exchanges.)
   */
  get rttSpreadMs(): number {
    const n = Math.min(this.taken, RECENT_EXCHANGES);
    if (n === 0) return 0;
    const rtts = this.scratch.rtts(n);
    for (let i = 0; i < n; i++) rtts[i] = this.recentRtt[i]!;
    return medianAboveFastest(rtts, n);
  }

  /** How much member time the window's points span, ms (0 with fewer than two). */
  get spanMs(): number {
    const w = this.points;
    return w.length < 2 ? 0 : w.x[w.slot(w.length - 1)]! - w.x[w.slot(0)]!;
  }

  get sampleCount(): number {
    return this.points.length;
  }

  get isReady(): boolean {
    return this.points.length > 0 && this.taken >= this.opts.minSamples;
  }

  /**
   * Bound on the offset error at the newest sample, given the fitted skew and ignoring path
   * asymmetry: half the round trip made of the fastest up and fastest down delay in the window
   * (≤ rttMs / 2). Infinity when empty.
   */
  get errorBoundMs(): number {
    return this.points.length === 0 ? Infinity : Math.max(0, (this.alpha + this.beta) / 2);
  }

  reset(): void {
    this.points.clear();
    this.taken = 0;
    this.pending = [];
    this.xBase = 0;
    this.thetaBase = 0;
    this.xRef = 0;
    this.skew = 0;
    this.alpha = 0;
    this.beta = 0;
  }

  private offsetAtRef(): number {
    return this.points.length === 0 ? 0 : this.thetaBase + (this.alpha - this.beta) / 2;
  }

  /** Does the exchange's interval θ0 ∈ [−b', a'] (at x) meet the model's [−β, α], within tolerance? */
  private isConsistent(x: number, a: number, b: number): boolean {
    const k = this.skew;
    const hi = a - k * (x - this.xRef);
    const lo = -(b + k * (x - this.xRef));
    const tol = this.opts.stepToleranceMs + this.opts.stepTolerancePerMs * Math.abs(x - this.xRef);
    return hi >= -this.beta - tol && lo <= this.alpha + tol;
  }

  private prune(newestX: number): void {
    const w = this.points;
    const oldest = newestX - this.opts.windowMs;
    let drop = 0;
    while (drop < w.length && w.x[w.slot(drop)]! < oldest) drop++;
    if (drop > 0) w.dropOldest(drop);
  }

  /** Median minus minimum round trip: how much queueing noise rides on the exchanges. */
  private rttJitterMs(): number {
    const n = this.points.length;
    const rtts = this.scratch.rtts(n);
    for (let i = 0; i < n; i++) rtts[i] = this.points.rtt[this.points.slot(i)]!;
    return medianAboveFastest(rtts, n);
  }

  private refit(): void {
    const w = this.points;
    let xRef = -Infinity;
    let xMin = Infinity;
    for (let i = 0; i < w.length; i++) {
      const j = w.slot(i);
      xRef = Math.max(xRef, w.x[j]!);
      xMin = Math.min(xMin, w.xa[j]!, w.xb[j]!);
    }
    this.xRef = xRef;
    const n = this.points.length;
    const { upper, lower } = this.scratch;
    upper.clear(n);
    lower.clear(n);
    for (let i = 0; i < n; i++) {
      const j = w.slot(i);
      upper.add(w.xa[j]! - xRef, w.a[j]!);
      lower.add(w.xb[j]! - xRef, w.b[j]!);
    }
    upper.close();
    lower.close();
    const kMax = this.opts.maxSkewPpm * 1e-6;
    const span = xRef - xMin;
    // (the early rule needs enough points for their round trips' spread to mean something)
    const fitSkew =
      span >= this.opts.minSkewSpanMs ||
      (n >= this.opts.minSamples && this.rttJitterMs() <= span * this.opts.earlySkewMaxJitterPpm * 1e-6);
    const k = fitSkew ? bestSkew(upper, lower, kMax, this.scratch) : smallestFeasibleSkew(upper, lower, kMax, this.scratch);
    this.skew = k;
    this.alpha = upper.minOf(-k);
    this.beta = lower.minOf(k);
  }
}

/**
 * A lower convex hull (monotone chain) built in place, sorted by x: the fit runs on every exchange
 * (several a second, over up to maxSamples points), so it allocates nothing once its buffers have
 * grown to the window's size. Points are added in x order (a window is appended to in time order);
 * a point out of order makes close() sort them all and build again.
 */
class Hull {
  private px = new Float64Array(0);
  private py = new Float64Array(0);
  private n = 0;
  private sorted = true;
  /** the hull's vertices, in x order */
  hx = new Float64Array(0);
  hy = new Float64Array(0);
  size = 0;

  clear(capacity: number): void {
    if (this.px.length < capacity) {
      this.px = new Float64Array(capacity);
      this.py = new Float64Array(capacity);
      this.hx = new Float64Array(capacity);
      this.hy = new Float64Array(capacity);
    }
    this.n = 0;
    this.size = 0;
    this.sorted = true;
  }

  add(x: number, y: number): void {
    const i = this.n++;
    this.px[i] = x;
    this.py[i] = y;
    if (i > 0 && (this.px[i - 1]! > x || (this.px[i - 1] === x && this.py[i - 1]! > y))) this.sorted = false;
  }

  close(): void {
    if (!this.sorted) {
      const order = Array.from({ length: this.n }, (_, i) => i).sort((p, q) => this.px[p]! - this.px[q]! || this.py[p]! - this.py[q]!);
      const xs = order.map((i) => this.px[i]!);
      const ys = order.map((i) => this.py[i]!);
      this.px.set(xs);
      this.py.set(ys);
    }
    const { hx, hy } = this;
    let h = 0;
    for (let i = 0; i < this.n; i++) {
      const x = this.px[i]!;
      const y = this.py[i]!;
      while (h >= 2) {
        // Pop q unless o → q → p turns left (q strictly below the segment o–p).
        const ox = hx[h - 2]!;
        const oy = hy[h - 2]!;
        if ((hx[h - 1]! - ox) * (y - oy) - (hy[h - 1]! - oy) * (x - ox) <= 0) h--;
        else break;
      }
      if (h === 0 || hx[h - 1] !== x) {
        hx[h] = x;
        hy[h] = y;
        h++;
      }
    }
    this.size = h;
  }

  /** min over the points of y + k·x (attained on the hull). */
  minOf(k: number): number {
    let min = Infinity;
    for (let i = 0; i < this.size; i++) min = Math.min(min, this.hy[i]! + k * this.hx[i]!);
    return min;
  }
}

/** Buffers the fit reuses from one exchange to the next. */
class FitScratch {
  readonly upper = new Hull();
  readonly lower = new Hull();
  private rttBuf = new Float64Array(0);
  private candidateBuf = new Float64Array(0);
  private valueBuf = new Float64Array(0);

  rtts(n: number): Float64Array {
    if (this.rttBuf.length < n) this.rttBuf = new Float64Array(n);
    return this.rttBuf;
  }

  candidates(n: number): { k: Float64Array; f: Float64Array } {
    if (this.candidateBuf.length < n) {
      this.candidateBuf = new Float64Array(n);
      this.valueBuf = new Float64Array(n);
    }
    return { k: this.candidateBuf, f: this.valueBuf };
  }
}

/** The median of the first n values minus their smallest (n ≥ 1); reorders them. */
function medianAboveFastest(values: Float64Array, n: number): number {
  let min = Infinity;
  for (let i = 0; i < n; i++) min = Math.min(min, values[i]!);
  return select(values, n, Math.floor((n - 1) / 2)) - min;
}

/** The k-th smallest of a[0..n) (0-based), reordering a in place (quickselect). */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}

/** f(k) = min(a − k·x) + min(b + k·x): twice the error bound; ≥ 0 iff some θ0 fits every sample. */
function envelopeGap(aHull: Hull, bHull: Hull, k: number): number {
  return aHull.minOf(-k) + bHull.minOf(k);
}

/**
 * The k nearest 0 that leaves every sample consistent (f(k) ≥ 0): skew is assumed 0 until the
 * samples prove otherwise, and then only as far as they prove. Used while the window is short.
 */
function smallestFeasibleSkew(aHull: Hull, bHull: Hull, kMax: number, scratch: FitScratch): number {
  if (envelopeGap(aHull, bHull, 0) >= 0) return 0;
  const kBest = bestSkew(aHull, bHull, kMax, scratch);
  if (envelopeGap(aHull, bHull, kBest) < 0) return kBest;
  // f is concave, so it rises monotonically from 0 to kBest: bisect for f = 0.
  let inside = kBest;
  let outside = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (inside + outside) / 2;
    if (envelopeGap(aHull, bHull, mid) >= 0) inside = mid;
    else outside = mid;
  }
  return inside;
}

/**
 * The k in [−kMax, kMax] maximizing f(k) = min(a − k·x) + min(b + k·x). The maximum of a concave
 * piecewise-linear function lies on a breakpoint: an edge slope s of the a-hull (k = s) or of
 * the b-hull (k = −s). Ties (a flat top) resolve to the middle of the flat part.
 */
function bestSkew(aHull: Hull, bHull: Hull, kMax: number, scratch: FitScratch): number {
  const { k: candidates, f: values } = scratch.candidates(aHull.size + bHull.size + 2);
  let count = 0;
  candidates[count++] = -kMax;
  candidates[count++] = kMax;
  const addSlopes = (hull: Hull, sign: number): void => {
    for (let i = 1; i < hull.size; i++) {
      const k = (sign * (hull.hy[i]! - hull.hy[i - 1]!)) / (hull.hx[i]! - hull.hx[i - 1]!);
      if (Math.abs(k) < kMax) candidates[count++] = k;
    }
  };
  addSlopes(aHull, 1);
  addSlopes(bHull, -1);
  let best = -Infinity;
  for (let i = 0; i < count; i++) {
    values[i] = envelopeGap(aHull, bHull, candidates[i]!);
    best = Math.max(best, values[i]!);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < count; i++) {
    if (values[i]! >= best - 1e-9) {
      lo = Math.min(lo, candidates[i]!);
      hi = Math.max(hi, candidates[i]!);
    }
  }
  return (lo + hi) / 2;
}
