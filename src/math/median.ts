/**
 * The median of a list of numbers: the middle value, or the mean of the two middle ones for an
 * even count. NaN for an empty list. The input is not reordered.
 */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const m = n >> 1;
  return n % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
