/**
 * Progress of a long job over many files (the leader's scan, a member's check): files done of
 * the total, the rate, and the time left. The rate is measured over the last RATE_WINDOW_MS
 * (a scan is fast through cached files and slow through new ones; the recent rate predicts the
 * rest better than the average since the start).
 */
import { monotonicMs } from '../clock/monotonic.js';

/** A snapshot for status replies and the UI. */
export interface ProgressView {
  /** what is being done: 'listing' (finding files, total still growing), 'reading', 'checking', 'done' */
  phase: 'listing' | 'reading' | 'checking' | 'done';
  done: number;
  total: number;
  /** of `done`, how many came from the scan cache without reading the file */
  cached: number;
  /** files per second over the last few seconds */
  ratePerSec: number;
  /** seconds left at that rate; null when unknown */
  etaSec: number | null;
  elapsedSec: number;
}

const RATE_WINDOW_MS = 5000;

export class Progress {
  phase: ProgressView['phase'];
  done = 0;
  total = 0;
  cached = 0;
  private readonly startedMs: number;
  private endedMs: number | null = null;
  /** (time, done) samples, oldest first, spanning about RATE_WINDOW_MS */
  private readonly samples: { ms: number; done: number }[] = [];

  constructor(phase: ProgressView['phase'], private readonly now: () => number = monotonicMs) {
    this.phase = phase;
    this.startedMs = now();
    this.samples.push({ ms: this.startedMs, done: 0 });
  }

  /** One more file finished (`fromCache`: served by the scan cache). */
  step(fromCache = false): void {
    this.done++;
    if (fromCache) this.cached++;
    const ms = this.now();
    const last = this.samples[this.samples.length - 1]!;
    if (ms - last.ms >= 200) {
      this.samples.push({ ms, done: this.done });
      while (this.samples.length > 2 && ms - this.samples[1]!.ms > RATE_WINDOW_MS) this.samples.shift();
    }
  }

  finish(): void {
    this.phase = 'done';
    this.endedMs = this.now();
  }

  view(): ProgressView {
    const ms = this.endedMs ?? this.now();
    const first = this.samples[0]!;
    const spanMs = ms - first.ms;
    const ratePerSec = spanMs > 0 ? ((this.done - first.done) * 1000) / spanMs : 0;
    const left = this.total - this.done;
    const etaSec = this.phase === 'done' ? 0 : this.phase !== 'listing' && ratePerSec > 0 ? left / ratePerSec : null;
    return { phase: this.phase, done: this.done, total: this.total, cached: this.cached, ratePerSec, etaSec, elapsedSec: (ms - this.startedMs) / 1000 };
  }
}

/** "reading 3,200/10,000 files (1,050/s, 2,900 cached, about 7 s left)" */
export function describeProgress(p: ProgressView, noun = 'files'): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en');
  if (p.phase === 'listing') return `listing ${noun}: ${n(p.total)} found so far (${p.elapsedSec.toFixed(0)} s)`;
  const head = `${p.phase} ${n(p.done)}/${n(p.total)} ${noun}`;
  const parts = [`${n(p.ratePerSec)}/s`];
  if (p.cached > 0) parts.push(`${n(p.cached)} cached`);
  if (p.phase === 'done') parts.push(`in ${p.elapsedSec.toFixed(1)} s`);
  else if (p.etaSec !== null) parts.push(`about ${formatSeconds(p.etaSec)} left`);
  return `${head} (${parts.join(', ')})`;
}

/** "40 s", "3 min 20 s", "2 h 5 min": a time left, as a person reads it. */
export function formatSeconds(sec: number): string {
  if (sec < 90) return `${Math.ceil(sec)} s`;
  const m = Math.floor(sec / 60);
  return m < 90 ? `${m} min ${Math.round(sec - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
