/**
 * The offset estimator's window of points, oldest first, as a ring of typed arrays (one per
 * field). A point stays for minutes: kept as one small object each, every point outlived the
 * young collections and was promoted to the old space, where it waited as garbage for the next
 * full collection (a member adds ~2 points a second, ~1 MB an hour). Here a point is eight slots
 * in arrays allocated once, and dropping the oldest is moving an index.
 */
export class PointWindow {
  /** midpoint of the newest exchange in the point, relative to the estimator's epoch */
  readonly x: Float64Array;
  /** fastest up (a) and fastest down (b), each with its own exchange's midpoint */
  readonly a: Float64Array;
  readonly xa: Float64Array;
  readonly b: Float64Array;
  readonly xb: Float64Array;
  /** smallest round trip of the point */
  readonly rtt: Float64Array;
  /** t4 of the newest exchange, relative to the epoch */
  readonly end: Float64Array;
  /** t1 of the first exchange, relative to the epoch */
  readonly start: Float64Array;
  private head = 0;
  private count = 0;

  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity));
    const slots = (): Float64Array => new Float64Array(this.capacity);
    this.x = slots();
    this.a = slots();
    this.xa = slots();
    this.b = slots();
    this.xb = slots();
    this.rtt = slots();
    this.end = slots();
    this.start = slots();
  }

  get length(): number {
    return this.count;
  }

  /** The slot of the i-th oldest point (0 ≤ i < length). */
  slot(i: number): number {
    const s = this.head + i;
    return s >= this.capacity ? s - this.capacity : s;
  }

  /** Appends a point; when full, the oldest makes room. Returns its slot. */
  push(x: number, a: number, xa: number, b: number, xb: number, rtt: number, end: number, start: number): number {
    if (this.count === this.capacity) this.dropOldest(1);
    const s = this.slot(this.count++);
    this.x[s] = x;
    this.a[s] = a;
    this.xa[s] = xa;
    this.b[s] = b;
    this.xb[s] = xb;
    this.rtt[s] = rtt;
    this.end[s] = end;
    this.start[s] = start;
    return s;
  }

  dropOldest(n: number): void {
    const k = Math.min(n, this.count);
    this.head = this.slot(k);
    this.count -= k;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
