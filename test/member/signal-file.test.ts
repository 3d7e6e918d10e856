import { existsSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signalFile } from '../../src/member/signal-file.js';

const spec = (f1: number) => ({ kind: 'sweep' as const, f0: 100, f1, durationSec: 0.1, sampleRate: 8000, amplitude: 0.5, fadeSec: 0.01 });

describe('calibration signal files', () => {
  it('reuses a file for the same signal and keeps only the two newest', () => {
    const a = signalFile(spec(1000));
    expect(signalFile(spec(1000)).path).toBe(a.path);
    const paths = [1100, 1200, 1300, 1400, 1500].map((f) => signalFile(spec(f)).path);
    const dir = dirname(a.path);
    expect(readdirSync(dir).sort()).toEqual(paths.slice(-2).map((p) => p.slice(dir.length + 1)).sort());
    expect(existsSync(a.path)).toBe(false);
  });
});
