import { describe, expect, it } from 'vitest';
import { PointWindow } from '../../src/clock/point-window.js';

/** The window's x values, oldest first. */
function xs(w: PointWindow): number[] {
  return Array.from({ length: w.length }, (_, i) => w.x[w.slot(i)]!);
}

describe('PointWindow', () => {
  it('keeps points oldest first and, when full, drops the oldest to make room', () => {
    const w = new PointWindow(4);
    for (let i = 1; i <= 3; i++) w.push(i, 10 * i, i, 20 * i, i, 0.5 * i, i + 0.25, i - 0.25);
    expect(xs(w)).toEqual([1, 2, 3]);
    for (let i = 4; i <= 9; i++) w.push(i, 10 * i, i, 20 * i, i, 0.5 * i, i + 0.25, i - 0.25);
    expect(w.length).toBe(4);
    expect(xs(w)).toEqual([6, 7, 8, 9]);
    // every field of a point stays with it across the wrap
    const newest = w.slot(3);
    expect([w.a[newest], w.xa[newest], w.b[newest], w.xb[newest], w.rtt[newest], w.end[newest], w.start[newest]]).toEqual([90, 9, 180, 9, 4.5, 9.25, 8.75]);
  });

  it('drops from the front across the wrap, never more than it holds, and clears', () => {
    const w = new PointWindow(5);
    for (let i = 1; i <= 7; i++) w.push(i, 0, 0, 0, 0, 0, 0, 0);
    w.dropOldest(2);
    expect(xs(w)).toEqual([5, 6, 7]);
    w.push(8, 0, 0, 0, 0, 0, 0, 0);
    expect(xs(w)).toEqual([5, 6, 7, 8]);
    w.dropOldest(10);
    expect(w.length).toBe(0);
    w.push(9, 0, 0, 0, 0, 0, 0, 0);
    expect(xs(w)).toEqual([9]);
    w.clear();
    expect(w.length).toBe(0);
    expect(xs(w)).toEqual([]);
  });

  it('a window of one holds the newest point', () => {
    const w = new PointWindow(1);
    w.push(1, 0, 0, 0, 0, 0, 0, 0);
    w.push(2, 0, 0, 0, 0, 0, 0, 0);
    expect(xs(w)).toEqual([2]);
  });
});
