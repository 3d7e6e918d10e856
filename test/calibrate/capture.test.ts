import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capture, captureArgs, detectCaptureTool } from '../../src/calibrate/capture.js';
import { findArrival } from '../../src/calibrate/correlate.js';
import { DEFAULT_SWEEP, renderSweep } from '../../src/audio/signal.js';
import { monotonicMs } from '../../src/clock/monotonic.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'syncplay-capture-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fakeTool(dir: string, name: string, script: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${script}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('detectCaptureTool', () => {
  it('returns an install hint when no tool is on PATH', () => {
    const empty = tempDir();
    const r = detectCaptureTool(undefined, { path: empty });
    expect(r.tool).toBeNull();
    if (r.tool === null) {
      expect(r.installHint).toMatch(/no capture tool found/);
      expect(r.installHint).toMatch(/pulseaudio-utils/);
      expect(r.installHint).toMatch(/alsa-utils/);
      expect(r.installHint).toMatch(/sox/);
    }
  });

  it('finds tools in PATH order of preference, honouring prefer', () => {
    const a = tempDir();
    const b = tempDir();
    fakeTool(a, 'sox', 'exit 0');
    fakeTool(b, 'arecord', 'exit 0');
    writeFileSync(join(a, 'parec'), 'not executable'); // present but not executable: skipped
    const path = `${a}:${b}`;
    expect(detectCaptureTool(undefined, { path })).toEqual({ tool: 'arecord', path: join(b, 'arecord') });
    expect(detectCaptureTool('sox', { path })).toEqual({ tool: 'sox', path: join(a, 'sox') });
    expect(detectCaptureTool('parec', { path })).toEqual({ tool: 'arecord', path: join(b, 'arecord') });
  });
});

describe('captureArgs', () => {
  it('asks each tool for raw s16le mono at the rate on stdout', () => {
    expect(captureArgs({ tool: 'parec', sampleRate: 48_000, input: 'mic.monitor' })).toEqual([
      '--raw',
      '--format=s16le',
      '--rate=48000',
      '--channels=1',
      '--latency-msec=10',
      '--client-name=syncplay',
      '--stream-name=calibration',
      '--device=mic.monitor',
    ]);
    const ar = captureArgs({ tool: 'arecord', sampleRate: 44_100, input: 'hw:1,0' });
    expect(ar).toEqual(expect.arrayContaining(['-t', 'raw', '-f', 'S16_LE', '-r', '44100', '-c', '1', '-D', 'hw:1,0']));
    expect(ar[ar.length - 1]).toBe('-');
    const sox = (input?: string) => captureArgs({ tool: 'sox', sampleRate: 48_000, ...(input ? { input } : {}) });
    expect(sox()).toEqual(expect.arrayContaining(['-d', '-t', 'raw', '-e', 'signed', '-b', '16', '-c', '1', '-r', '48000', '-']));
    expect(sox('hw:2')).toEqual(expect.arrayContaining(['-t', 'alsa', 'hw:2']));
    expect(sox('alsa_input.usb-mic')).toEqual(expect.arrayContaining(['-t', 'pulse', 'alsa_input.usb-mic']));
    expect(sox('alsa:default')).toEqual(expect.arrayContaining(['-t', 'alsa', 'default']));
  });
});

describe('Capture with a stand-in tool', () => {
  it('collects s16le samples and times the first sample', async () => {
    const d = tempDir();
    // 0.2 s of a ramp at 8 kHz in 4 chunks, then wait to be stopped.
    const raw = Buffer.alloc(3200);
    for (let i = 0; i < 1600; i++) raw.writeInt16LE(i * 10 - 8000, 2 * i);
    writeFileSync(join(d, 'audio.raw'), raw);
    const exe = fakeTool(
      d,
      'parec',
      `for i in 0 1 2 3; do dd if="${join(d, 'audio.raw')}" bs=800 skip=$i count=1 2>/dev/null; sleep 0.05; done; exec sleep 30`,
    );
    const cap = new Capture({ tool: 'parec', sampleRate: 8000, executable: exe });
    expect(cap.firstSampleLocalMs).toBeNull();
    const before = monotonicMs();
    await cap.start();
    await new Promise((r) => setTimeout(r, 400));
    const x = await cap.stop();
    expect(x.length).toBe(1600);
    expect(x[0]).toBeCloseTo(-8000 / 32768, 6);
    expect(x[1599]).toBeCloseTo((15990 - 8000) / 32768, 6);
    const first = cap.firstSampleLocalMs!;
    expect(first).toBeGreaterThan(before - 60);
    expect(first).toBeLessThan(before + 1000);
    expect(cap.firstSampleUncertaintyMs).toBeGreaterThan(0);
  });

  it('fails with the tool’s error message when it exits at once', async () => {
    const d = tempDir();
    const exe = fakeTool(d, 'arecord', 'echo "arecord: main:831: audio open error: No such file or directory" >&2; exit 1');
    const cap = new Capture({ tool: 'arecord', sampleRate: 48_000, input: 'hw:9', executable: exe });
    await expect(cap.start()).rejects.toThrow(/exited before recording anything \(exit code 1\): arecord: main:831: audio open error/);
  });

  it('fails clearly when the tool is missing', async () => {
    const cap = new Capture({ tool: 'sox', sampleRate: 48_000, executable: '/nonexistent/sox' });
    await expect(cap.start()).rejects.toThrow(/not found: install one with/);
  });

  it('fails when the tool sends nothing', async () => {
    const d = tempDir();
    const exe = fakeTool(d, 'parec', 'exec sleep 30');
    const cap = new Capture({ tool: 'parec', sampleRate: 48_000, executable: exe, startTimeoutMs: 300 });
    await expect(cap.start()).rejects.toThrow(/sent no audio within 300 ms/);
  });
});

// ---------------------------------------------------------------------------------------------
// Smoke test through a private PulseAudio server: a null sink, the sweep played into it with
// pacat, its monitor recorded with Capture(parec).
// ---------------------------------------------------------------------------------------------

const haveTools = ['pulseaudio', 'pacat', 'parec', 'pactl'].every(
  (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0,
);

describe.runIf(haveTools)('Capture(parec) through a private PulseAudio', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let pid = 0;

  beforeAll(() => {
    dir = tempDir();
    mkdirSync(join(dir, 'home'));
    env = { ...process.env, PULSE_SERVER: `unix:${dir}/native`, XDG_RUNTIME_DIR: dir, HOME: join(dir, 'home') };
    const r = spawnSync(
      'pulseaudio',
      ['-n', '--daemonize=yes', '--exit-idle-time=-1', '--use-pid-file=yes', '-L', `module-native-protocol-unix socket=${dir}/native auth-anonymous=1`],
      { env, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`pulseaudio did not start: ${r.stderr}`);
    const pidFile = join(dir, 'pulse', 'pid');
    for (let i = 0; i < 50 && !existsSync(pidFile); i++) spawnSync('sleep', ['0.1']);
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    const m = spawnSync('pactl', ['load-module', 'module-null-sink', 'sink_name=calib', 'rate=48000', 'channels=1', 'norewinds=1'], {
      env,
      encoding: 'utf8',
    });
    if (m.status !== 0) throw new Error(`pactl: ${m.stderr}`);
  });

  afterAll(() => {
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });

  it('records a sweep played into the null sink and finds it, two sweeps exactly their spacing apart', async () => {
    const sweep = renderSweep(DEFAULT_SWEEP);
    const FS = DEFAULT_SWEEP.sampleRate;
    const gap = FS; // 1 s of silence between the two sweeps, in one continuous stream
    const lead = Math.round(0.1 * FS);
    const stream = new Float32Array(lead + 2 * sweep.length + gap + Math.round(0.3 * FS));
    stream.set(sweep, lead);
    stream.set(sweep, lead + sweep.length + gap);
    const pcm = Buffer.alloc(stream.length * 2);
    for (let i = 0; i < stream.length; i++) pcm.writeInt16LE(Math.round(stream[i]! * 32767), 2 * i);

    const cap = new Capture({ tool: 'parec', sampleRate: FS, input: 'calib.monitor', env, latencyMs: 10 });
    await cap.start();
    await new Promise((r) => setTimeout(r, 300));
    const player = spawn('pacat', ['--raw', '--format=s16le', '--rate=48000', '--channels=1', '--device=calib', '--latency-msec=250'], {
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const writtenAt = monotonicMs();
    player.stdin.end(pcm);
    await new Promise<void>((resolve) => player.on('close', () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    const rec = await cap.stop();
    expect(rec.length).toBeGreaterThan(stream.length);

    const a = findArrival(rec, sweep, FS, { searchToSample: rec.length - sweep.length - gap - sweep.length });
    expect(a.ok, a.reason).toBe(true);
    const b = findArrival(rec, sweep, FS, { searchFromSample: Math.round(a.delaySamples) + sweep.length + 1 });
    expect(b.ok, b.reason).toBe(true);
    const spacing = b.delaySamples - a.delaySamples;
    expect(Math.abs(spacing - (sweep.length + gap))).toBeLessThan(0.05 * (FS / 1000)); // ±0.05 ms

    const first = cap.firstSampleLocalMs!;
    const sweepLocal = cap.localMsAtSample(a.delaySamples)!;
    const expectedLocal = writtenAt + (lead / FS) * 1000;
    console.log(
      `parec smoke: arrivals ${a.delayMs.toFixed(3)} / ${b.delayMs.toFixed(3)} ms, spacing error ` +
        `${(((spacing - sweep.length - gap) / FS) * 1000).toFixed(4)} ms, confidence ${a.confidence.toFixed(1)} dB; ` +
        `sweep heard ${(sweepLocal - expectedLocal).toFixed(1)} ms after it was written to pacat; ` +
        `first-sample uncertainty ${cap.firstSampleUncertaintyMs!.toFixed(2)} ms, measured rate ${cap.measuredSampleRate!.toFixed(2)} Hz`,
    );
    expect(first).toBeLessThan(writtenAt);
    // Played after it was written, and not absurdly later (pacat and server buffering are ~10–50 ms).
    expect(sweepLocal - expectedLocal).toBeGreaterThan(-(cap.firstSampleUncertaintyMs ?? 0) - 1);
    expect(sweepLocal - expectedLocal).toBeLessThan(300);
  });
});
