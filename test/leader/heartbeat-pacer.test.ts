import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatPacer } from '../../src/leader/heartbeat-pacer.js';

class Target {
  readonly got: string[] = [];
  sendLine(line: string): void {
    this.got.push(line);
  }
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('HeartbeatPacer', () => {
  it('sends every target one heartbeat per interval, a slice at a time', () => {
    const targets = Array.from({ length: 1000 }, () => new Target());
    let n = 0;
    const pacer = new HeartbeatPacer(1000, () => targets, () => `beat ${n++}\n`);
    expect(pacer.slices).toBe(10);
    pacer.start();
    const perTick: number[] = [];
    for (let tick = 0; tick < 30; tick++) {
      const before = targets.reduce((s, t) => s + t.got.length, 0);
      vi.advanceTimersByTime(100);
      perTick.push(targets.reduce((s, t) => s + t.got.length, 0) - before);
    }
    pacer.stop();
    // A tenth of the members per tick, never all at once.
    expect(perTick.every((k) => k === 100)).toBe(true);
    // Three intervals: three heartbeats each, one interval apart, and one line made per tick.
    for (const t of targets) expect(t.got).toHaveLength(3);
    expect(n).toBe(30);
    const first = targets[0]!.got.map((l) => Number(l.split(' ')[1]));
    expect(first[1]! - first[0]!).toBe(10);
    expect(first[2]! - first[1]!).toBe(10);
  });

  it('deals members who join later into slices, and carries the line of its own tick', () => {
    const targets: Target[] = [new Target()];
    let timeline = 1;
    const pacer = new HeartbeatPacer(100, () => targets, () => `timeline ${timeline}\n`);
    pacer.start();
    vi.advanceTimersByTime(100);
    targets.push(new Target(), new Target());
    timeline = 2;
    vi.advanceTimersByTime(200);
    pacer.stop();
    expect(targets[0]!.got).toEqual(['timeline 1\n', 'timeline 2\n', 'timeline 2\n']);
    for (const t of targets.slice(1)) expect(t.got.length).toBeGreaterThanOrEqual(1);
    for (const t of targets.slice(1)) expect(t.got.every((l) => l === 'timeline 2\n')).toBe(true);
  });

  it('keeps ticks at least 10 ms apart for short intervals', () => {
    const pacer = new HeartbeatPacer(20, () => [], () => '\n');
    expect(pacer.slices).toBe(2);
    expect(pacer.tickMs).toBe(10);
  });
});
