import { describe, expect, it } from 'vitest';
import { median } from '../../src/math/median.js';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the middle two of an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median(Float64Array.from([-2, 10]))).toBe(4);
  });
  it('sorts numerically, not as text', () => {
    expect(median([10, 9, 100])).toBe(10);
  });
  it('leaves its input as it was', () => {
    const v = [3, 1, 2];
    median(v);
    expect(v).toEqual([3, 1, 2]);
  });
  it('is NaN for nothing', () => {
    expect(median([])).toBeNaN();
  });
});
