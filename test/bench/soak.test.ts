import { describe, expect, it } from 'vitest';
import { growth, retainedGrowth } from '../../bench/soak.js';

describe('soak figures', () => {
  it('fits growth over the window, its halves and its last 60 minutes', () => {
    // 90 minutes sampled every 10 s: flat for 30 min, then +2 MB/h.
    const t: number[] = [];
    const rss: number[] = [];
    for (let s = 0; s <= 90 * 60; s += 10) {
      t.push(s);
      rss.push(50_000 + (s > 1800 ? ((s - 1800) / 3600) * 2 * 1024 : 0));
    }
    const g = growth({ name: 'leader', t, rss }, 0);
    expect(g.firstHalfMbPerHour).toBeLessThan(1.5);
    expect(g.secondHalfMbPerHour).toBeCloseTo(2, 5);
    expect(g.last60MbPerHour).toBeCloseTo(2, 5);
    expect(growth({ name: 'leader', t, rss }, 0, 3000).last60MbPerHour).toBeNull();
  });

  it('reports what survived a full collection at the start and at the end, per hour', () => {
    const row = retainedGrowth('leader', { t: 600, rssKb: 60 * 1024, heapTotalKb: 20_000, heapUsedKb: 15 * 1024, heapAfterFullGcKb: 15 * 1024 }, { t: 600 + 7200, rssKb: 61 * 1024, heapTotalKb: 20_000, heapUsedKb: 15.5 * 1024, heapAfterFullGcKb: 15.5 * 1024 });
    expect(row.heapMbPerHour).toBeCloseTo(0.25, 5);
    expect(row.rssMbPerHour).toBeCloseTo(0.5, 5);
    expect(row.heapEndMb).toBeCloseTo(15.5, 5);
  });
});
