/**
 * Preloaded into a leader or member by the soak (`NODE_OPTIONS=--import …/heap-sampler.js`, with
 * SYNCPLAY_HEAP_LOG=DIR): every 10 s it appends the process's own view of its memory to
 * DIR/heap-<role>-<pid>.jsonl — RSS, V8 heap committed and used, the heap left after the latest
 * full collection, how much the old generation grew between full collections so far (objects
 * promoted by young collections, or allocated there directly), external and ArrayBuffer memory,
 * and the full collections seen.
 *
 * RSS alone cannot tell retained memory from the collector's headroom: promoted objects that
 * died stay in the old generation until the next full collection, which V8 runs when it reaches a
 * limit set after the previous one, not on a clock. The heap after each full collection can tell
 * them apart: retained memory raises it, headroom does not. On SIGUSR2 the process runs a full
 * collection at once and writes a line marked `forced` with what was left (the soak asks at the
 * start and the end of its measured window, so retained growth is measured even when V8 ran none
 * in between).
 *
 * The instrument must not be what it measures. It polls the heap's spaces once a second (a few
 * short-lived objects) and reads a full collection as a fall of the old generation. A
 * PerformanceObserver on collections made entry objects per collection that were themselves
 * promoted (old space +15 MB/h in a process allocating 150 KB/s, against +0 without it), and
 * v8.GCProfiler restarted every 10 s grew native memory without bound (members' RSS +190 MB/h).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const dir = process.env.SYNCPLAY_HEAP_LOG;
const role = process.argv.slice(2).find((a) => a === 'leader' || a === 'member');

/** Bytes in the old generation: the spaces young collections promote into and large objects. */
function oldGeneration(): number {
  let sum = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === 'old_space' || s.space_name === 'code_space' || s.space_name === 'large_object_space' || s.space_name === 'code_large_object_space') sum += s.space_used_size;
  }
  return sum;
}

if (dir && role) {
  const file = join(dir, `heap-${role}-${process.pid}.jsonl`);
  const kb = (b: number): number => Math.round(b / 1024);
  let afterFullKb: number | null = null;
  let majors = 0;
  let oldGrownBytes = 0;
  let lastOld = oldGeneration();
  /** Once a second: growth of the old generation, or a full collection (it fell). */
  const poll = (): void => {
    const old = oldGeneration();
    if (old < lastOld) {
      majors += 1;
      afterFullKb = kb(process.memoryUsage().heapUsed);
    } else oldGrownBytes += old - lastOld;
    lastOld = old;
  };
  const t0 = Date.now();
  const sample = (forced = false): void => {
    const m = process.memoryUsage();
    const line = { t: (Date.now() - t0) / 1000, ...(forced ? { forced: true } : {}), rssKb: kb(m.rss), heapTotalKb: kb(m.heapTotal), heapUsedKb: kb(m.heapUsed), heapAfterFullGcKb: afterFullKb, oldGrownKb: kb(oldGrownBytes), majors, externalKb: kb(m.external), arrayBuffersKb: kb(m.arrayBuffers) };
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
    lastOld = oldGeneration();
    sample(true);
  });
  setInterval(poll, 1000).unref();
  setInterval(() => sample(), 10_000).unref();
  sample();
}
