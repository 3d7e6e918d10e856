/**
 * A private PulseAudio "test room" for the sync benchmark: one multi-channel null sink with one
 * remap sink per member (member i's sound lands on channel i alone), and one parec of the null
 * sink's monitor, so every member is recorded with one timebase.
 *
 * - The daemon is our own child (`pulseaudio -n --daemonize=no`, equivalent to the usual daemonized
 *   form but with its PID in hand), with its runtime and state in a private directory
 *   (PULSE_RUNTIME_PATH, no PID file), reachable only at unix:<dir>/native. stop() kills that PID.
 * - The null sink is loaded with norewinds=1 (with rewinds a monitor recording holds re-mixed
 *   snippets) and the recorder is started before any member plays (an idle null sink runs ahead).
 * - Members get env() (PULSE_SERVER) and `--audio-device pulse/<sinkFor(name)>`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicMs } from '../src/clock/monotonic.js';
import { deinterleaveS16 } from './audio-spread.js';

export interface PulseRoomOptions {
  /** private directory for the socket, runtime files and the daemon's log */
  dir: string;
  /** member names, in channel order */
  members: string[];
  /** sample rate of the null sink and the recording (default 44100, the bundled tracks' rate) */
  sampleRate?: number;
  /** parec fragment, ms (default 10) */
  recordLatencyMs?: number;
}

export interface Recording {
  channels: Float32Array[];
  sampleRate: number;
  /**
   * Local monotonic ms at which the first sample was heard: sample k at firstSampleMs + k/rate.
   * Each chunk's last frame was captured no later than its arrival, so arrival − frames/rate is
   * an upper bound on it; the tightest over the whole recording is taken (a chunk delivered
   * promptly makes it exact to the recorder's wake-up latency).
   */
  firstSampleMs: number;
  /** [arrival ms, frames received so far] of every chunk (evidence for the timebase) */
  arrivals: [number, number][];
  /** chunks received */
  chunks: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export class PulseRoom {
  readonly sampleRate: number;
  private daemon: ChildProcess | null = null;
  private recorder: ChildProcess | null = null;
  private recorderExit: Promise<void> | null = null;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private firstBound = Infinity;
  private arrivals: [number, number][] = [];
  private chunkCount = 0;
  private recStderr = '';

  constructor(private readonly opts: PulseRoomOptions) {
    this.sampleRate = opts.sampleRate ?? 44_100;
  }

  get socket(): string {
    return join(this.opts.dir, 'native');
  }

  get pid(): number | null {
    return this.daemon?.pid ?? null;
  }

  /** Environment for every PulseAudio client of this room (members, their mpv, pactl, parec). */
  env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...base, PULSE_SERVER: `unix:${this.socket}`, PULSE_RUNTIME_PATH: join(this.opts.dir, 'runtime') };
  }

  sinkFor(member: string): string {
    return `sp_${member.replace(/[^\w]/g, '_')}`;
  }

  /** the mpv --audio-device value for a member */
  deviceFor(member: string): string {
    return `pulse/${this.sinkFor(member)}`;
  }

  private pactl(...args: string[]): string {
    const r = spawnSync('pactl', args, { env: this.env(), encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`pactl ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
    return r.stdout.trim();
  }

  async start(): Promise<void> {
    mkdirSync(join(this.opts.dir, 'runtime'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.opts.dir, 'state'), { recursive: true, mode: 0o700 });
    const log = openSync(join(this.opts.dir, 'pulseaudio.log'), 'a');
    try {
      this.daemon = spawn(
        'pulseaudio',
        ['-n', '--daemonize=no', '--use-pid-file=no', '--exit-idle-time=-1', '--disallow-exit', '--log-target=stderr', '-L', `module-native-protocol-unix socket=${this.socket} auth-anonymous=1`],
        { env: { ...this.env(), PULSE_STATE_PATH: join(this.opts.dir, 'state') }, stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const deadline = monotonicMs() + 10_000;
    for (;;) {
      if (this.daemon.exitCode !== null || this.daemon.signalCode !== null) throw new Error(`pulseaudio exited at start (see ${join(this.opts.dir, 'pulseaudio.log')})`);
      if (existsSync(this.socket) && spawnSync('pactl', ['info'], { env: this.env(), timeout: 5000 }).status === 0) break;
      if (monotonicMs() > deadline) throw new Error('pulseaudio did not come up within 10 s');
      await sleep(100);
    }
    const n = this.opts.members.length;
    const map = Array.from({ length: n }, (_, i) => `aux${i}`).join(',');
    this.pactl('load-module', 'module-null-sink', 'sink_name=room', `channels=${n}`, `channel_map=${map}`, `rate=${this.sampleRate}`, 'format=s16le', 'norewinds=1');
    this.opts.members.forEach((m, i) => {
      this.pactl('load-module', 'module-remap-sink', `sink_name=${this.sinkFor(m)}`, 'master=room', 'channels=1', 'channel_map=mono', `master_channel_map=aux${i}`, 'remix=no');
    });
  }

  /** Starts parec on the room's monitor (all channels); resolves when audio arrives. */
  async startRecording(): Promise<void> {
    const n = this.opts.members.length;
    const map = Array.from({ length: n }, (_, i) => `aux${i}`).join(',');
    const rec = spawn(
      'parec',
      ['--raw', '--format=s16le', `--rate=${this.sampleRate}`, `--channels=${n}`, `--channel-map=${map}`, `--latency-msec=${this.opts.recordLatencyMs ?? 10}`, '--device=room.monitor', '--client-name=sync-bench', '--stream-name=room'],
      { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.recorder = rec;
    const frameBytes = 2 * n;
    this.recorderExit = new Promise((r) => rec.on('close', () => r()));
    rec.stderr!.on('data', (d: Buffer) => {
      if (this.recStderr.length < 4096) this.recStderr += d.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`parec sent nothing within 5 s: ${this.recStderr.trim()}`)), 5000);
      rec.stdout!.on('data', (chunk: Buffer) => {
        const at = monotonicMs();
        this.chunks.push(chunk);
        this.bytes += chunk.length;
        this.chunkCount++;
        // The chunk's last frame was captured no later than now: a causal bound on the first frame.
        const frames = Math.floor(this.bytes / frameBytes);
        const bound = at - ((frames - 1) / this.sampleRate) * 1000;
        if (bound < this.firstBound) this.firstBound = bound;
        this.arrivals.push([at, frames]);
        clearTimeout(timer);
        resolve();
      });
      rec.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  async stopRecording(): Promise<Recording> {
    const rec = this.recorder;
    if (!rec) throw new Error('not recording');
    this.recorder = null;
    if (rec.exitCode === null && rec.signalCode === null) {
      rec.kill('SIGINT');
      const hard = setTimeout(() => rec.kill('SIGKILL'), 2000);
      await this.recorderExit;
      clearTimeout(hard);
    }
    const channels = deinterleaveS16(Buffer.concat(this.chunks, this.bytes), this.opts.members.length);
    const out = { channels, sampleRate: this.sampleRate, firstSampleMs: this.firstBound, chunks: this.chunkCount, arrivals: this.arrivals };
    this.chunks = [];
    this.arrivals = [];
    this.bytes = 0;
    return out;
  }

  /** Stops the recorder (if running) and the daemon, by their PIDs. */
  async stop(): Promise<void> {
    if (this.recorder) await this.stopRecording().catch(() => undefined);
    const d = this.daemon;
    this.daemon = null;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const exited = new Promise<void>((r) => d.on('exit', () => r()));
    d.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (d.exitCode === null && d.signalCode === null) {
      d.kill('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
    }
  }
}
