import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FirstFrame, firstFrameLines } from '../../../src/leader/ui/first-frame.js';
import type { ProgressView } from '../../../src/playlist/progress.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

const reading: ProgressView = { phase: 'reading', done: 3200, total: 10_000, cached: 2900, ratePerSec: 1050, etaSec: 7, elapsedSec: 3 };

function fakeTerminal(columns: number): NodeJS.WriteStream & { text: () => string } {
  const out = new PassThrough() as unknown as NodeJS.WriteStream & { text: () => string };
  let written = '';
  out.write = ((chunk: string) => {
    written += chunk;
    return true;
  }) as typeof out.write;
  (out as { columns: number }).columns = columns;
  out.text = () => written;
  return out;
}

describe('the plain first frame', () => {
  it('says the leader is starting, then where it listens and how far the scan is', () => {
    const starting = firstFrameLines({}, 100).map(plain);
    expect(starting).toHaveLength(1);
    expect(starting[0]).toMatch(/^syncplay leader {2}starting… +loading the panel…$/);
    expect(starting[0]).toHaveLength(100);

    const scanning = firstFrameLines({ listening: '0.0.0.0:7655', scan: reading }, 100).map(plain);
    expect(scanning[0]).toMatch(/^syncplay leader {2}0\.0\.0\.0:7655 +loading the panel…$/);
    expect(scanning[2]).toMatch(/^── Scan ─+$/);
    expect(scanning[3]).toBe('reading 3,200/10,000 files (1,050/s, 2,900 cached, about 7 s left)');

    // The scan is over: no scan rows.
    expect(firstFrameLines({ listening: 'x:1', scan: { ...reading, phase: 'done' } }, 100)).toHaveLength(1);
  });

  it('fits every line into a narrow terminal', () => {
    for (const width of [20, 30, 45]) {
      for (const line of firstFrameLines({ listening: '192.168.100.200:7655', scan: reading }, width)) expect([...plain(line)].length).toBeLessThanOrEqual(width);
    }
  });

  it('enters the alternate screen, repaints from the top, and hands it over without leaving it', () => {
    const out = fakeTerminal(80);
    const frame = new FirstFrame(out);
    const exitHandlers = process.listenerCount('exit');
    frame.start();
    expect(process.listenerCount('exit')).toBe(exitHandlers + 1);
    expect(out.text().startsWith('\x1b[?1049h')).toBe(true);
    frame.draw({ listening: 'h:1', scan: reading });
    const repaint = out.text().slice(out.text().lastIndexOf('\x1b[H'));
    expect(plain(repaint)).toContain('syncplay leader  h:1');
    expect(repaint.endsWith('\x1b[J')).toBe(true);
    frame.handOver();
    expect(process.listenerCount('exit')).toBe(exitHandlers);
    const before = out.text().length;
    frame.leave();
    frame.draw({});
    expect(out.text().length).toBe(before);
  });

  it('gives the normal screen back when the leader fails before its panel opens', () => {
    const out = fakeTerminal(80);
    const frame = new FirstFrame(out);
    frame.start();
    frame.leave();
    expect(out.text().endsWith('\x1b[?1049l')).toBe(true);
    frame.leave();
    expect(out.text().match(/\x1b\[\?1049l/g)).toHaveLength(1);
  });
});
