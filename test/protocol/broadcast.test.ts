import { describe, expect, it } from 'vitest';
import { BROADCAST_BATCH, sendToAll, type SealingTarget } from '../../src/protocol/broadcast.js';
import { LineAuth, sessionKeys } from '../../src/protocol/line-auth.js';

/** A target that records every call in one shared log, tagging with a real LineAuth. */
class Target implements SealingTarget {
  readonly written: string[] = [];
  readonly member: LineAuth;
  private readonly auth: LineAuth;

  constructor(readonly id: number, private readonly log: string[], readonly open = true) {
    this.auth = new LineAuth(sessionKeys('s', `l${id}`, `m${id}`, 'leader'));
    this.member = new LineAuth(sessionKeys('s', `l${id}`, `m${id}`, 'member'));
  }

  sealLine(line: string): string | null {
    if (!this.open) return null;
    this.log.push(`seal ${this.id}`);
    return `${this.auth.seal(line.slice(0, -1))}\n`;
  }

  writeSealed(out: string): void {
    this.log.push(`write ${this.id}`);
    this.written.push(out);
  }
}

describe('sendToAll', () => {
  it('writes every open target once, in order, each line verifying at its member', () => {
    const log: string[] = [];
    const targets = Array.from({ length: 2 * BROADCAST_BATCH + 5 }, (_, i) => new Target(i, log, i % 7 !== 3));
    const open = targets.filter((t) => t.open);
    expect(sendToAll(targets, '{"type":"x","n":1}\n')).toBe(open.length);
    expect(sendToAll(new Set(targets), '{"type":"x","n":2}\n')).toBe(open.length);
    for (const t of targets) {
      expect(t.written.length).toBe(t.open ? 2 : 0);
      // Each connection's own sequence: line 0 then line 1.
      t.written.forEach((w, n) => expect(t.member.open(w.slice(0, -1))).toBe(`{"type":"x","n":${n + 1}}`));
    }
    expect(log.filter((e) => e.startsWith('write')).map((e) => Number(e.split(' ')[1]))).toEqual([...open, ...open].map((t) => t.id));
  });

  it('tags at most one batch before writing, and writes each target after its own tag', () => {
    const log: string[] = [];
    const targets = Array.from({ length: 3 * BROADCAST_BATCH }, (_, i) => new Target(i, log));
    sendToAll(targets, '{}\n');
    expect(log.indexOf('write 0')).toBe(BROADCAST_BATCH); // the first member waits for one batch of tags, not all
    for (const t of targets) expect(log.indexOf(`write ${t.id}`)).toBeGreaterThan(log.indexOf(`seal ${t.id}`));
    let sealedNotWritten = 0;
    for (const e of log) {
      sealedNotWritten += e.startsWith('seal') ? 1 : -1;
      expect(sealedNotWritten).toBeLessThanOrEqual(BROADCAST_BATCH);
    }
    expect(sealedNotWritten).toBe(0);
  });

  it('sends to nobody without targets', () => {
    expect(sendToAll([], '{}\n')).toBe(0);
  });
});
