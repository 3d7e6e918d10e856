/**
 * What a speed change does to the sound, against what mpv's audio-pts says it did.
 *
 *   node dist/bench/speed-probe.js [--hacks yes|no] [--step 0.001] [--toggle 0.0005] [--slew-ms 100]
 *
 * Two bare mpv players in one PulseAudio room (bench/pulse-room.ts): `ref` plays at speed 1
 * throughout; `probe` is driven through a pattern while its audio-pts is read every 20 ms
 * (stamped at the midpoint of the IPC round trip). The recording gives the probe's sound lag
 * behind ref per 0.25 s window; audio-pts gives what mpv believes (probe − ref, each against its
 * own wall-clock line). The pattern:
 *
 *   A  4 s at 1.0                        (baseline: start offset of the two)
 *   B  one step: 1 + step for 2 s, back  (the sound should move by step × 2 s; when, and how?)
 *      — or, with --slew-ms, a slew: 1 + step for that long, back, as a pre-rolled start's
 *      alignment makes them (the sound should move by step × slew)
 *   C  4 s of toggling every 100 ms between 1 ± toggle (net zero: the sound should end where it began)
 *   D  4 s at 1.0
 *
 * Prints, per phase, the sound's lag and audio-pts' view, the difference at each instant, and the
 * delay between a speed step and the sound's response (the plant's dead time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monotonicMs } from '../src/clock/monotonic.js';
import { lagBetween } from './audio-spread.js';
import { PulseRoom } from './pulse-room.js';
import { benchArgs, numberOption } from './args.js';
import { sleep } from './child-processes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: ARGS } = benchArgs('node dist/bench/speed-probe.js [options]', {
  hacks: { type: 'string', value: 'yes|no', help: "mpv's --pulse-latency-hacks (default yes)" },
  step: { type: 'string', value: 'ratio', help: 'the speed step of phase B (default 0.001)' },
  toggle: { type: 'string', value: 'ratio', help: 'the ± toggle of phase C (default 0.0005)' },
  'slew-ms': { type: 'string', value: 'ms', help: 'phase B holds the step this long only (default: all of its 2 s)' },
});
const HACKS = ARGS.hacks ?? 'yes';
const STEP = numberOption('--step', ARGS.step, 0.001);
const TOGGLE = numberOption('--toggle', ARGS.toggle, 0.0005);
const SLEW_MS = ARGS['slew-ms'] === undefined ? null : numberOption('--slew-ms', ARGS['slew-ms'], 100);

class Ipc {
  private buf = '';
  private id = 1;
  private readonly waiting = new Map<number, (v: { data?: unknown; error: string }) => void>();
  constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const m = JSON.parse(line) as { request_id?: number; data?: unknown; error: string };
        if (m.request_id && this.waiting.has(m.request_id)) {
          this.waiting.get(m.request_id)!(m);
          this.waiting.delete(m.request_id);
        }
      }
    });
  }
  cmd(command: unknown[]): Promise<{ data?: unknown; error: string }> {
    const id = this.id++;
    return new Promise((r) => {
      this.waiting.set(id, r);
      this.sock.write(JSON.stringify({ command, request_id: id }) + '\n');
    });
  }
}

async function player(room: PulseRoom, name: string, dir: string): Promise<{ proc: ChildProcess; ipc: Ipc }> {
  const path = join(dir, `${name}.sock`);
  const proc = spawn('mpv', ['--no-config', '--no-video', '--idle=no', '--pause', '--audio-pitch-correction=no', `--pulse-latency-hacks=${HACKS}`, `--input-ipc-server=${path}`, `--audio-device=${room.deviceFor(name)}`, join(root, 'playlists', '02-harbour-lights.ogg')], { env: room.env(), stdio: 'ignore' });
  for (let k = 0; k < 50; k++) {
    await sleep(100);
    try {
      const s = await new Promise<Socket>((res, rej) => {
        const c = connect(path);
        c.once('connect', () => res(c));
        c.once('error', rej);
      });
      return { proc, ipc: new Ipc(s) };
    } catch {
      /* not yet */
    }
  }
  throw new Error(`mpv ${name} did not open its IPC socket`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'syncplay-speed-probe-'));
  const room = new PulseRoom({ dir: join(dir, 'pulse'), members: ['ref', 'probe'] });
  const procs: ChildProcess[] = [];
  try {
    await room.start();
    await room.startRecording();
    const ref = await player(room, 'ref', dir);
    const probe = await player(room, 'probe', dir);
    procs.push(ref.proc, probe.proc);
    await sleep(800);
    const t0 = monotonicMs() + 100;
    while (monotonicMs() < t0) {
      /* spin to the instant */
    }
    await Promise.all([ref.ipc.cmd(['set_property', 'pause', false]), probe.ipc.cmd(['set_property', 'pause', false])]);
    // audio-pts of both, every 20 ms; speed schedule of the probe
    const reads: { t: number; ref: number; probe: number; speed: number }[] = [];
    const speedAt: [number, number][] = [[t0, 1]];
    let speed = 1;
    const setSpeed = async (s: number): Promise<void> => {
      speed = s;
      speedAt.push([monotonicMs(), s]);
      await probe.ipc.cmd(['set_property', 'speed', s]);
    };
    const phases: [string, number][] = [['A', 4000], ['B', 2000], ['B2', 2000], ['C', 4000], ['D', 4000]];
    let phaseStart = t0 + 1000;
    const marks: Record<string, number> = {};
    let toggles = 0;
    for (const [name, len] of phases) {
      marks[name] = phaseStart;
      if (name === 'B') {
        await setSpeed(1 + STEP);
        if (SLEW_MS !== null) {
          const end = monotonicMs() + SLEW_MS;
          await sleep(Math.max(0, SLEW_MS - 3));
          while (monotonicMs() < end) {
            /* spin to the slew's end */
          }
          await setSpeed(1);
        }
      }
      if (name === 'B2' || name === 'D') await setSpeed(1);
      while (monotonicMs() < phaseStart + len) {
        if (name === 'C' && monotonicMs() >= phaseStart + toggles * 100 - 0) {
          await setSpeed(1 + (toggles % 2 === 0 ? TOGGLE : -TOGGLE));
          toggles++;
        }
        const a = monotonicMs();
        const r = await ref.ipc.cmd(['get_property', 'audio-pts']);
        const b = monotonicMs();
        const p = await probe.ipc.cmd(['get_property', 'audio-pts']);
        const c = monotonicMs();
        if (typeof r.data === 'number' && typeof p.data === 'number' && b - a < 1 && c - b < 1) {
          // each against its own wall-clock line: position − (t − t0)
          reads.push({ t: (b + c) / 2, ref: r.data * 1000 - ((a + b) / 2 - t0), probe: p.data * 1000 - ((b + c) / 2 - t0), speed });
        }
        await sleep(20);
      }
      if (name === 'C') await setSpeed(1);
      phaseStart += len;
    }
    marks.end = phaseStart;
    const rec = await room.stopRecording();
    // sound: probe's lag behind ref per 0.25 s window (hop 0.125 s), ±30 ms search
    const fs = rec.sampleRate;
    const win = Math.round(0.25 * fs);
    const rows: { t: number; soundAheadMs: number | null; ptsAheadMs: number | null }[] = [];
    for (let tt = t0 + 700; tt + 250 < marks.end!; tt += 125) {
      const k = Math.round(((tt - rec.firstSampleMs) / 1000) * fs);
      const l = lagBetween(rec.channels[0]!.subarray(k, k + win), rec.channels[1]!.subarray(k, k + win), { sampleRate: fs, maxLagMs: 30 });
      const mid = tt + 125;
      const near = reads.filter((r) => Math.abs(r.t - mid) <= 125);
      const pts = near.length ? near.reduce((s, r) => s + (r.probe - r.ref), 0) / near.length : null;
      rows.push({ t: mid, soundAheadMs: l.lagMs === null ? null : -l.lagMs, ptsAheadMs: pts });
    }
    const base = (from: number, to: number, k: 'soundAheadMs' | 'ptsAheadMs'): number | null => {
      const v = rows.filter((r) => r.t >= from && r.t < to && r[k] !== null).map((r) => r[k]!);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    const s0 = base(marks.A! + 1000, marks.B!, 'soundAheadMs');
    const p0 = base(marks.A! + 1000, marks.B!, 'ptsAheadMs');
    process.stdout.write(`speed probe: --pulse-latency-hacks=${HACKS}, step ${STEP}${SLEW_MS === null ? '' : ` for ${SLEW_MS} ms`}, toggle ±${TOGGLE}; load ${(await import('node:os')).loadavg().map((v) => v.toFixed(2)).join(' ')}\n`);
    process.stdout.write(`baseline (A): probe ahead of ref by ${s0?.toFixed(3)} ms (sound) / ${p0?.toFixed(3)} ms (audio-pts)\n`);
    process.stdout.write('t (s from B) | probe ahead, sound − baseline | audio-pts − baseline | difference\n');
    for (const r of rows) {
      if (r.t < marks.B! - 500) continue;
      const s = r.soundAheadMs === null || s0 === null ? null : r.soundAheadMs - s0;
      const p = r.ptsAheadMs === null || p0 === null ? null : r.ptsAheadMs - p0;
      const tag = r.t < marks.B2! ? 'B' : r.t < marks.C! ? 'B2' : r.t < marks.D! ? 'C' : 'D';
      process.stdout.write(`${((r.t - marks.B!) / 1000).toFixed(3).padStart(7)} ${tag.padEnd(2)} | ${s === null ? '—' : s.toFixed(3)} | ${p === null ? '—' : p.toFixed(3)} | ${s === null || p === null ? '—' : (s - p).toFixed(3)}\n`);
    }
    const expectB = STEP * (SLEW_MS ?? 2000);
    process.stdout.write(`expected after B: +${expectB.toFixed(3)} ms; after C: unchanged (net zero)\n`);
    process.stdout.write(`end of B2: sound ${((base(marks.C! - 1000, marks.C!, 'soundAheadMs') ?? NaN) - (s0 ?? NaN)).toFixed(3)}, audio-pts ${((base(marks.C! - 1000, marks.C!, 'ptsAheadMs') ?? NaN) - (p0 ?? NaN)).toFixed(3)}\n`);
    process.stdout.write(`end of D:  sound ${((base(marks.D! + 1500, marks.end!, 'soundAheadMs') ?? NaN) - (s0 ?? NaN)).toFixed(3)}, audio-pts ${((base(marks.D! + 1500, marks.end!, 'ptsAheadMs') ?? NaN) - (p0 ?? NaN)).toFixed(3)}\n`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(300);
    await room.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`speed-probe: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
