/**
 * Preloaded into a leader or member by the soak (`NODE_OPTIONS=--import …/heap-sampler.js`, with
 * SYNCPLAY_HEAP_LOG=DIR): every 10 s it appends the process's own view of its memory to
 * DIR/heap-<role>-<pid>.jsonl — RSS, V8 heap committed and used, the heap left after the latest
 * full (mark-compact) collection, external and ArrayBuffer memory, and counts of collections.
 * RSS alone cannot tell retained memory from the collector's headroom; the heap after each full
 * collection can: retained memory raises it, headroom does not.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

const dir = process.env.SYNCPLAY_HEAP_LOG;
const role = process.argv.slice(2).find((a) => a === 'leader' || a === 'member');

if (dir && role) {
  const file = join(dir, `heap-${role}-${process.pid}.jsonl`);
  const gc = { minor: 0, major: 0, other: 0, pauseMs: 0 };
  let afterFullKb: number | null = null;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      gc.pauseMs += e.duration;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor += 1;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major += 1;
        // Read right after the collection: what it could not free.
        afterFullKb = Math.round(getHeapStatistics().used_heap_size / 1024);
      } else gc.other += 1;
    }
  }).observe({ entryTypes: ['gc'] });
  const t0 = Date.now();
  const sample = (): void => {
    const m = process.memoryUsage();
    const kb = (b: number): number => Math.round(b / 1024);
    const line = { t: (Date.now() - t0) / 1000, rssKb: kb(m.rss), heapTotalKb: kb(m.heapTotal), heapUsedKb: kb(m.heapUsed), heapAfterFullGcKb: afterFullKb, externalKb: kb(m.external), arrayBuffersKb: kb(m.arrayBuffers), gc: { ...gc, pauseMs: Math.round(gc.pauseMs) } };
    try {
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch {
      /* the soak's folder is gone: nothing to report to */
    }
  };
  setInterval(sample, 10_000).unref();
  sample();
}
