/**
 * Drives a real mpv (`--ao=null`, no sound card needed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile } from '../../../bench/stats.js';
import {
  MPV_INSTALL_HINT,
  MpvCommandError,
  MpvNotFoundError,
  MpvProcess,
  SupervisedMpv,
  type MpvIpcClient,
} from '../../../src/member/mpv/index.js';
import { encodeWav } from '../../../src/audio/wav.js';

const MPV_ARGS = ['--ao=null'];

/** 16-bit stereo PCM WAV with a logarithmic sine sweep (f0 → f1 Hz). */
function sweepWav(seconds: number, rate = 44100, f0 = 200, f1 = 2000): Buffer {
  const frames = Math.round(seconds * rate);
  const k = Math.log(f1 / f0) / seconds;
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) samples[i] = 0.5 * Math.sin((2 * Math.PI * f0 * (Math.exp((k * i) / rate) - 1)) / k);
  return encodeWav(samples, rate, 2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let wav: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncplay-mpv-test-'));
  wav = join(dir, 'sweep.wav');
  writeFileSync(wav, sweepWav(5));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('MpvProcess + MpvIpcClient with a real mpv', () => {
  let proc: MpvProcess;
  let mpv: MpvIpcClient;

  beforeAll(async () => {
    proc = new MpvProcess({ extraArgs: MPV_ARGS });
    mpv = await proc.start();
    console.log(`[mpv] start-up to first IPC reply: ${proc.startupMs!.toFixed(1)} ms (fd://3 IPC)`);
  });

  afterAll(async () => {
    await proc?.stop();
  });

  it('loads a file paused at 1.5 s', async () => {
    const restarted = mpv.waitForEvent('playback-restart', undefined, 5000);
    await mpv.command(['loadfile', wav, 'replace', 'start=1.5,pause=yes']);
    await restarted;
    expect(await mpv.getProperty<boolean>('pause')).toBe(true);
    const timePos = await mpv.getProperty<number>('time-pos');
    expect(timePos).toBeCloseTo(1.5, 1);
    // audio-pts may be unavailable before any audio has been written; when present it must agree.
    const audioPts = await mpv.getProperty<number>('audio-pts').catch(() => null);
    console.log(`[mpv] paused after loadfile start=1.5: time-pos ${timePos}, audio-pts ${audioPts}`);
    if (audioPts !== null) expect(Math.abs(audioPts - 1.5)).toBeLessThan(0.05);
  });

  it('advances audio-pts in real time once unpaused', async () => {
    await mpv.setProperty('pause', false);
    await sleep(200);
    const a = await mpv.timedGetProperty('audio-pts');
    await sleep(1000);
    const b = await mpv.timedGetProperty('audio-pts');
    const mediaS = b.value - a.value;
    const localS = (b.localMs - a.localMs) / 1000;
    console.log(
      `[mpv] audio-pts advanced ${mediaS.toFixed(4)} s over ${localS.toFixed(4)} s local (rtt ${a.rttMs.toFixed(3)} / ${b.rttMs.toFixed(3)} ms)`,
    );
    expect(localS).toBeGreaterThan(0.99);
    expect(mediaS).toBeGreaterThan(0.9);
    // Each reading was taken somewhere inside its round trip; a loaded machine stretches those
    // and can hold the player back by a time slice: 30 ms on top of them is still real time.
    expect(Math.abs(mediaS - localS)).toBeLessThan(0.03 + (a.rttMs + b.rttMs) / 1000);
  });

  it('sets and reads back speed', async () => {
    await mpv.setProperty('speed', 1.002);
    expect(await mpv.getProperty<number>('speed')).toBeCloseTo(1.002, 9);
    await mpv.setProperty('speed', 1);
  });

  it('measures timedGetProperty round trips', async () => {
    const rtts: number[] = [];
    for (let i = 0; i < 200; i++) rtts.push((await mpv.timedGetProperty('audio-pts')).rttMs);
    rtts.sort((x, y) => x - y);
    const p50 = percentile(rtts, 50)!;
    const p95 = percentile(rtts, 95)!;
    console.log(
      `[mpv] timedGetProperty(audio-pts) rtt over 200 reads: p50 ${p50.toFixed(3)} ms, p95 ${p95.toFixed(3)} ms, max ${rtts[rtts.length - 1]!.toFixed(3)} ms`,
    );
    expect(p50).toBeLessThan(20);
  });

  it('observes properties', async () => {
    const id = await mpv.observeProperty('pause');
    expect(Number.isInteger(id)).toBe(true);
    const seen = new Promise<unknown>((resolve) => {
      const on = (name: string, data: unknown) => {
        if (name === 'pause' && data === true) {
          mpv.off('property-change', on);
          resolve(data);
        }
      };
      mpv.on('property-change', on);
    });
    await mpv.setProperty('pause', true);
    expect(await seen).toBe(true);
    await mpv.unobserveProperty(id);
  });

  it("rejects an unknown command with mpv's error", async () => {
    const err = await mpv.command(['no-such-command', 1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpvCommandError);
    expect((err as MpvCommandError).mpvError).toMatch(/invalid parameter|error running command/);
    expect((err as Error).message).toContain('no-such-command');
    const err2 = await mpv.getProperty('no-such-property').catch((e: unknown) => e);
    expect((err2 as MpvCommandError).mpvError).toBe('property not found');
    // The connection is still usable afterwards.
    expect(typeof (await mpv.getProperty('mpv-version'))).toBe('string');
  });

  it('stop() quits mpv and closes the client', async () => {
    const p = new MpvProcess({ extraArgs: MPV_ARGS });
    const c = await p.start();
    let unexpectedExit = false;
    p.on('exit', () => (unexpectedExit = true));
    await p.stop();
    expect(c.closed).toBe(true);
    expect(p.running).toBe(false);
    expect(unexpectedExit).toBe(false);
  });
});

describe('start-up failures', () => {
  it('reports a missing binary with the install hint', async () => {
    const p = new MpvProcess({ mpvPath: join(tmpdir(), 'no-such-dir', 'mpv') });
    const err = await p.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpvNotFoundError);
    expect((err as Error).message).toContain(MPV_INSTALL_HINT);
    expect((err as Error).message).toContain('sudo apt install mpv');
  });

  it("reports a bad option with mpv's own words", async () => {
    const p = new MpvProcess({ extraArgs: [...MPV_ARGS, '--no-such-option=1'] });
    const err = await p.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/exited during start-up/);
    expect((err as Error).message).toContain('no-such-option');
  });
});

describe('SupervisedMpv', () => {
  it('restarts mpv after kill -9 and emits ready again', async () => {
    const logs: string[] = [];
    const sup = new SupervisedMpv({ extraArgs: MPV_ARGS, minBackoffMs: 100, log: (m) => logs.push(m) });
    const readies: MpvIpcClient[] = [];
    sup.on('ready', (c: MpvIpcClient) => readies.push(c));
    try {
      const first = await sup.start();
      expect(readies).toEqual([first]);
      expect(sup.current()).toBe(first);
      const pid1 = sup.pid!;
      expect(pid1).toBeGreaterThan(0);

      const down = new Promise<[number | null, string | null]>((r) => sup.once('down', (c, s) => r([c, s])));
      const ready = new Promise<MpvIpcClient>((r) => sup.once('ready', r));
      const t0 = performance.now();
      process.kill(pid1, 'SIGKILL');
      expect(await down).toEqual([null, 'SIGKILL']);
      expect(sup.current()).toBeNull();
      const second = await ready;
      console.log(`[mpv] supervised restart after SIGKILL: ready again in ${(performance.now() - t0).toFixed(0)} ms`);
      expect(second).not.toBe(first);
      expect(first.closed).toBe(true);
      expect(sup.current()).toBe(second);
      expect(sup.pid).not.toBe(pid1);
      expect(sup.restarts).toBe(1);
      expect(typeof (await second.getProperty('mpv-version'))).toBe('string');
    } finally {
      await sup.stop();
    }
    expect(sup.current()).toBeNull();
  });
});
