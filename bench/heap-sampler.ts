/**
 * Preloaded into a leader or member by the soak (`NODE_OPTIONS=--import …/heap-sampler.js`, with
 * SYNCPLAY_HEAP_LOG=DIR): every 10 s it appends the process's own view of its memory to
 * DIR/heap-<role>-<pid>.jsonl — RSS, V8 heap committed and used, old space used, the heap left
 * after the latest full (mark-compact) collection, the bytes young collections promoted into the
 * old space so far, external and ArrayBuffer memory, and counts of collections.
 *
 * RSS alone cannot tell retained memory from the collector's headroom: promoted objects that
 * died stay in the old space until the next full collection, which V8 runs when the old space
 * reaches a limit set after the previous one (tens of MB above what was live), not on a clock.
 * The heap after each full collection can tell them apart: retained memory raises it, headroom
 * does not. On SIGUSR2 the process runs a full collection at once and writes a line marked
 * `forced` with what was left (the soak asks at the start and the end of its measured window, so
 * retained growth is measured even when V8 ran none in between).
 *
 * Collections are read through v8.GCProfiler (statistics kept in C++, handed over every 10 s),
 * not a PerformanceObserver: its entry objects per collection were themselves promoted garbage.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const dir = process.env.SYNCPLAY_HEAP_LOG;
const role = process.argv.slice(2).find((a) => a === 'leader' || a === 'member');

interface SpaceStats {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcStats {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: SpaceStats[] };
  afterGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: SpaceStats[] };
}

const oldSpace = (spaces: SpaceStats[]): number => spaces.find((s) => s.spaceName === 'old_space')?.spaceUsedSize ?? 0;

if (dir && role) {
  const file = join(dir, `heap-${role}-${process.pid}.jsonl`);
  const kb = (b: number): number => Math.round(b / 1024);
  const gc = { minor: 0, major: 0, other: 0, pauseMs: 0 };
  let afterFullKb: number | null = null;
  let promotedBytes = 0;
  let profiler = new GCProfiler();
  profiler.start();
  /** Takes the collections since the last call into the counts. */
  const drain = (): void => {
    const report = profiler.stop() as { statistics: GcStats[] } | undefined;
    profiler = new GCProfiler();
    profiler.start();
    for (const s of report?.statistics ?? []) {
      gc.pauseMs += s.cost / 1000;
      if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkCompact') {
        gc.minor += 1;
        // What the young collection moved into the old space.
        promotedBytes += Math.max(0, oldSpace(s.afterGC.heapSpaceStatistics) - oldSpace(s.beforeGC.heapSpaceStatistics));
      } else if (s.gcType === 'MarkSweepCompact') {
        gc.major += 1;
        afterFullKb = kb(s.afterGC.heapStatistics.usedHeapSize);
      } else gc.other += 1;
    }
  };
  const t0 = Date.now();
  const sample = (forced = false): void => {
    drain();
    const m = process.memoryUsage();
    const line = { t: (Date.now() - t0) / 1000, ...(forced ? { forced: true } : {}), rssKb: kb(m.rss), heapTotalKb: kb(m.heapTotal), heapUsedKb: kb(m.heapUsed), heapAfterFullGcKb: afterFullKb, promotedKb: kb(promotedBytes), externalKb: kb(m.external), arrayBuffersKb: kb(m.arrayBuffers), gc: { ...gc, pauseMs: Math.round(gc.pauseMs) } };
    try {
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch {
      /* the soak's folder is gone: nothing to report to */
    }
  };
  setFlagsFromString('--expose-gc');
  // Called without options: a full collection (Node 20's `{ type: 'major' }` ran a young one).
  const fullGc = runInNewContext('gc') as () => void;
  process.on('SIGUSR2', () => {
    fullGc();
    sample(true);
  });
  setInterval(() => sample(), 10_000).unref();
  sample();
}
