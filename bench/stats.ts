/**
 * Percentiles for the benchmarks and the tests: one definition everywhere.
 *
 * The p-th percentile of n ascending values sits at rank r = p/100 · (n − 1) and is interpolated
 * linearly between the two values either side of r (numpy's default, Hyndman–Fan type 7). So p0 is
 * the minimum, p100 the maximum, and the median of an even count is the mean of the middle two.
 * Nearest-rank variants differ from it by at most one step between neighbouring values.
 */

export interface Stats {
  n: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** The p-th percentile (0–100) of values already sorted ascending; null when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** A sorted copy. */
export function ascending(values: ArrayLike<number>): number[] {
  return Array.from(values).sort((a, b) => a - b);
}

/** The q-quantile (0–1) of unsorted values; NaN when there are none. */
export function quantile(values: ArrayLike<number>, q: number): number {
  return percentile(ascending(values), q * 100) ?? NaN;
}

/** The median of unsorted values; null when there are none. */
export function median(values: ArrayLike<number>): number | null {
  return percentile(ascending(values), 50);
}

/** p50 / p95 / max of unsorted values (nulls when there are none). */
export function stats(values: ArrayLike<number>): Stats {
  const sorted = ascending(values);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.length ? sorted[sorted.length - 1]! : null };
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** "p50 / p95 / max (n=…)" with `digits` decimals, "—" for a missing value. */
export function formatStats(s: Stats, digits = 1): string {
  const f = (v: number | null): string => (v === null ? '—' : v.toFixed(digits));
  return `${f(s.p50)} / ${f(s.p95)} / ${f(s.max)} (n=${s.n})`;
}
