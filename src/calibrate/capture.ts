/**
 * Microphone capture through a standard command-line tool (parec, arecord or sox) writing raw
 * signed 16-bit little-endian mono PCM to its stdout.
 *
 * Timing. Calibration needs only the *relative* arrival times of the members' signals within one
 * continuous recording (sample indices; exact). For `--self` the recording must also be placed on
 * this machine's monotonic clock: firstSampleLocalMs is that estimate, and localMsAtSample(n) maps
 * any sample index.
 *
 * How firstSampleLocalMs is estimated: every chunk that arrives on stdout holds samples up to a
 * known index n, and the last of them cannot have been captured after the chunk arrived, so
 *   first + (n − 1)/rate ≤ arrival time of that chunk.
 * Each chunk gives such a causal bound; the tightest one (over the first seconds, before clock
 * drift between the sound card and this machine matters) is the estimate. This removes the tool's
 * own buffering and the scheduling jitter of the pipe automatically: chunks that waited in a buffer
 * give looser bounds and lose. What it cannot see is the delay between the microphone and the
 * moment the tool received the samples (ADC and driver FIFO, the sound server's fragment): the
 * estimate is *late* by that amount — typically 1–5 ms for ALSA hardware, up to one fragment
 * (`latencyMs`, default 10 ms) for PulseAudio/PipeWire. firstSampleUncertaintyMs reports that
 * bound plus the scatter of the best bounds. Measured through a PulseAudio null-sink monitor with
 * 10 ms fragments on a loaded 2-core machine: chunks every 10 ms, their bounds exceed the tightest
 * by 0.2 / 0.6 / 3.6 ms (p10 / p50 / p90), and the first chunk alone would have been 1.5–4.8 ms
 * late. With ≥ 10 s of recording the sample rate against the local clock is fitted too (tightest
 * bounds of the first and last 2 s), so localMsAtSample(n) follows a sound card that runs a little
 * fast or slow (typically ±20–100 ppm); shorter recordings use the nominal rate.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { monotonicMs } from '../clock/monotonic.js';

export type CaptureTool = 'parec' | 'arecord' | 'sox';

const TOOL_ORDER: CaptureTool[] = ['parec', 'arecord', 'sox'];

export const CAPTURE_INSTALL_HINT =
  'no capture tool found: install one with `sudo apt install pulseaudio-utils` (parec), ' +
  '`sudo apt install alsa-utils` (arecord) or `sudo apt install sox`';

function findExecutable(name: string, pathEnv: string): string | null {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (!statSync(p).isFile()) continue;
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Find a capture tool on PATH (`opts.path`, default process.env.PATH): `prefer` if installed,
 * otherwise the first of parec (PulseAudio / PipeWire), arecord (ALSA), sox.
 */
export function detectCaptureTool(
  prefer?: CaptureTool,
  opts: { path?: string } = {},
): { tool: CaptureTool; path: string } | { tool: null; installHint: string } {
  const pathEnv = opts.path ?? process.env.PATH ?? '';
  const order = prefer ? [prefer, ...TOOL_ORDER.filter((t) => t !== prefer)] : TOOL_ORDER;
  for (const tool of order) {
    const path = findExecutable(tool, pathEnv);
    if (path) return { tool, path };
  }
  return { tool: null, installHint: CAPTURE_INSTALL_HINT };
}

export interface CaptureOptions {
  tool: CaptureTool;
  /**
   * Device or PulseAudio source: parec `--device`, arecord `-D`, sox input (ALSA names such as
   * `hw:1,0`, `plughw:…`, `default`, `sysdefault:…` go to `-t alsa`, anything else to `-t pulse`;
   * `alsa:NAME` / `pulse:NAME` force the driver). Default: the system's default input.
   */
  input?: string;
  sampleRate: number;
  channels?: 1;
  /** Executable to run instead of looking `tool` up on PATH. */
  executable?: string;
  /** Requested capture fragment for parec/arecord, ms (default 10): smaller means finer timing. */
  latencyMs?: number;
  /** Environment for the tool (e.g. PULSE_SERVER), default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long start() waits for the first audio before giving up, ms (default 5000). */
  startTimeoutMs?: number;
}

/** Arguments for each tool, writing raw s16le mono at the rate to stdout. */
export function captureArgs(opts: CaptureOptions): string[] {
  const rate = String(opts.sampleRate);
  const latency = opts.latencyMs ?? 10;
  switch (opts.tool) {
    case 'parec':
      return [
        '--raw',
        '--format=s16le',
        `--rate=${rate}`,
        '--channels=1',
        `--latency-msec=${latency}`,
        '--client-name=syncplay',
        '--stream-name=calibration',
        ...(opts.input ? [`--device=${opts.input}`] : []),
      ];
    case 'arecord':
      return [
        '-q',
        '-t',
        'raw',
        '-f',
        'S16_LE',
        '-r',
        rate,
        '-c',
        '1',
        `--period-time=${Math.round(latency * 1000)}`,
        `--buffer-time=${Math.round(Math.max(latency * 8, 100) * 1000)}`,
        ...(opts.input ? ['-D', opts.input] : []),
        '-',
      ];
    case 'sox': {
      let input: string[] = ['-d'];
      if (opts.input) {
        const m = /^(alsa|pulse):(.*)$/.exec(opts.input);
        const driver = m
          ? m[1]!
          : /^(hw|plughw|sysdefault|default|dsnoop|front|plug|dmix)(:|$)/.test(opts.input)
            ? 'alsa'
            : 'pulse';
        input = ['-t', driver, m ? m[2]! : opts.input];
      }
      return [
        '-q',
        '--buffer',
        '1024',
        ...input,
        '-t',
        'raw',
        '-e',
        'signed',
        '-b',
        '16',
        '-L',
        '-c',
        '1',
        '-r',
        rate,
        '-',
      ];
    }
  }
}

interface ChunkMark {
  /** Samples received so far, including this chunk. */
  samples: number;
  /** Local monotonic ms at which the chunk arrived. */
  atMs: number;
}

export class Capture {
  private child: ChildProcessWithoutNullStreams | null = null;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private marks: ChunkMark[] = [];
  private stderr = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private exitPromise: Promise<void> | null = null;
  private stopping = false;
  private fit: { firstMs: number; msPerSample: number; uncertaintyMs: number } | null = null;

  constructor(private readonly opts: CaptureOptions) {
    if (!TOOL_ORDER.includes(opts.tool)) throw new RangeError(`unknown capture tool: ${String(opts.tool)}`);
    if (!Number.isInteger(opts.sampleRate) || opts.sampleRate < 8000 || opts.sampleRate > 192_000)
      throw new RangeError(`capture sample rate must be an integer 8000–192000, got ${opts.sampleRate}`);
    if (opts.channels !== undefined && opts.channels !== 1) throw new RangeError('capture is mono only');
  }

  /**
   * Local monotonic ms (process.hrtime-based, as clock/monotonic.ts) at which the first sample of
   * the recording was captured; null before audio arrived. Late by the capture path's own delay
   * (see the module comment and firstSampleUncertaintyMs).
   */
  get firstSampleLocalMs(): number | null {
    return this.timing()?.firstMs ?? null;
  }

  /**
   * One-sided uncertainty of firstSampleLocalMs, ms: the true capture time of the first sample lies
   * in [firstSampleLocalMs − firstSampleUncertaintyMs, firstSampleLocalMs] (null before audio).
   */
  get firstSampleUncertaintyMs(): number | null {
    return this.timing()?.uncertaintyMs ?? null;
  }

  /** Local monotonic ms at which sample n of the recording was captured (uses the fitted rate). */
  localMsAtSample(n: number): number | null {
    const t = this.timing();
    return t ? t.firstMs + n * t.msPerSample : null;
  }

  /** The effective capture rate measured against the local clock, samples per second (null if unknown). */
  get measuredSampleRate(): number | null {
    const t = this.timing();
    return t ? 1000 / t.msPerSample : null;
  }

  /** Samples captured so far. */
  get samplesCaptured(): number {
    return this.bytes >> 1;
  }

  /**
   * Spawn the tool; resolves once the first audio arrived (the recording is running), rejects with
   * the tool's error output if it exits first, cannot be started, or sends nothing in time.
   */
  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error('capture already started'));
    const exe = this.opts.executable ?? this.opts.tool;
    const args = captureArgs(this.opts);
    const child = spawn(exe, args, { env: this.opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child as unknown as ChildProcessWithoutNullStreams;
    const cmd = `${exe} ${args.join(' ')}`;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timeoutMs = this.opts.startTimeoutMs ?? 5000;
      const timer = setTimeout(() => {
        settle(this.failure(`${this.opts.tool} sent no audio within ${timeoutMs} ms`, cmd));
        this.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        const atMs = monotonicMs();
        this.chunks.push(chunk);
        this.bytes += chunk.length;
        this.marks.push({ samples: this.bytes >> 1, atMs });
        this.fit = null;
        settle();
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => {
        if (this.stderr.length < 8192) this.stderr += s;
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        this.exited ??= { code: null, signal: null };
        settle(
          err.code === 'ENOENT'
            ? new Error(`${exe} not found: ${CAPTURE_INSTALL_HINT.replace(/^no capture tool found: /, '')}`)
            : new Error(`cannot start ${exe}: ${err.message}`),
        );
      });
      this.exitPromise = new Promise<void>((res) => {
        child.on('close', (code, signal) => {
          this.exited = { code, signal };
          settle(this.failure(`${this.opts.tool} exited before recording anything`, cmd));
          res();
        });
      });
    });
  }

  /**
   * Stop the tool and return the whole recording (mono, full scale ±1). Rejects with the tool's
   * error output if it died on its own before stop() (a recording with a gap is of no use).
   */
  async stop(): Promise<Float32Array> {
    if (!this.child) throw new Error('capture not started');
    if (this.exited && !this.stopping) {
      throw this.failure(`${this.opts.tool} stopped recording on its own`, this.opts.tool);
    }
    this.stopping = true;
    if (!this.exited) {
      this.kill('SIGINT');
      const hard = setTimeout(() => this.kill('SIGKILL'), 2000);
      await this.exitPromise;
      clearTimeout(hard);
    }
    return this.samples();
  }

  /** The audio received so far, without stopping. */
  samples(): Float32Array {
    const all = Buffer.concat(this.chunks, this.bytes);
    const n = all.length >> 1;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = all.readInt16LE(2 * i) / 32768;
    return out;
  }

  private kill(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid !== undefined && !this.exited) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  private failure(what: string, cmd: string): Error {
    const detail = this.stderr.trim();
    const exit = this.exited
      ? this.exited.signal
        ? ` (killed by ${this.exited.signal})`
        : this.exited.code !== null
          ? ` (exit code ${this.exited.code})`
          : ''
      : '';
    return new Error(`${what}${exit}${detail ? `: ${detail}` : ''}\n  command: ${cmd}`);
  }

  /** Fit first-sample time and ms per sample from the causal bounds of the chunk arrivals. */
  private timing(): { firstMs: number; msPerSample: number; uncertaintyMs: number } | null {
    if (this.fit) return this.fit;
    const marks = this.marks;
    if (marks.length === 0) return null;
    const rate = this.opts.sampleRate;
    const nominal = 1000 / rate;
    // Points (n − 1, arrival): the capture-time line t(n) = first + n·msPerSample lies below all.
    const pts = marks.map((m) => ({ n: m.samples - 1, t: m.atMs }));
    const lastN = pts[pts.length - 1]!.n;
    const window = 2 * rate; // 2 s: drift of even a 200 ppm card stays under 0.4 ms within it
    /** The tightest bound (on the nominal rate) among points with n in [lo, hi]. */
    const tightest = (lo: number, hi: number) => {
      let best: { n: number; t: number; bound: number } | null = null;
      for (const p of pts) {
        if (p.n < lo || p.n > hi) continue;
        const bound = p.t - p.n * nominal;
        if (!best || bound < best.bound) best = { ...p, bound };
      }
      return best!;
    };
    const a = tightest(-1, Math.max(window, pts[0]!.n));
    let msPerSample = nominal;
    // Fit the rate from the tightest bounds of the first and last 2 s once they are ≥ 10 s apart
    // (pipe jitter of ~0.1–0.3 ms in the tightest bounds then costs < 30 ppm).
    if (lastN - a.n >= 10 * rate) {
      const b = tightest(lastN - window, lastN);
      const slope = nominal + (b.bound - a.bound) / (b.n - a.n);
      if (Math.abs(slope / nominal - 1) < 1e-3) msPerSample = slope;
    }
    const firstMs = a.t - a.n * msPerSample;
    // Scatter of the early bounds just above the tightest: how much luck the estimate needed.
    const early = pts.filter((p) => p.n <= Math.max(window, pts[0]!.n)).map((p) => p.t - p.n * nominal);
    early.sort((x, y) => x - y);
    const scatter = early[Math.min(early.length - 1, Math.max(1, Math.floor(early.length * 0.1)))]! - early[0]!;
    const fragmentMs = this.opts.tool === 'sox' ? (1024 / 2 / rate) * 1000 : (this.opts.latencyMs ?? 10);
    // Unknown capture-path delay (0…one fragment) plus the scatter of the best bounds.
    this.fit = { firstMs, msPerSample, uncertaintyMs: fragmentMs + scatter };
    return this.fit;
  }
}
