/**
 * A private PulseAudio "room" for the benchmarks and the integration tests: no sound card, no user
 * session needed, nothing of a user's own PulseAudio / PipeWire touched.
 *
 * - The daemon is our own child (`pulseaudio -n --daemonize=no`, with its PID in hand), with its
 *   HOME, runtime, config and state in a private directory (a fresh temporary one unless `dir` is
 *   given; that one is removed by stop()), reachable only at unix:<dir>/native with anonymous auth.
 *   stop() ends it by that PID.
 * - The room is ONE null sink, "room", loaded with norewinds=1 (with rewinds a monitor recording
 *   holds re-mixed snippets; without, a stream joins at the next mixing block). With `members`, it
 *   has one channel per member and one remap sink each (member i's sound lands on channel i alone),
 *   so one recording of its monitor holds every member on one timebase; without, it is a stereo
 *   sink every player mixes into (`sink`, `monitor`).
 * - The recorder (parec of the monitor) is started before any member plays (an idle null sink runs
 *   ahead).
 * - Clients get env() (PULSE_SERVER) and `--audio-device pulse/<sinkFor(name)>` (deviceFor).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicMs } from '../src/clock/monotonic.js';
import { deinterleaveS16 } from './audio-spread.js';
import { sleep, stopProcess } from './child-processes.js';

/** The first missing program among those a room needs (plus `extra`), or null when all are installed. */
export function missingPulseTools(extra: string[] = []): string | null {
  for (const tool of ['pulseaudio', 'pactl', 'parec', ...extra]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return tool;
  }
  return null;
}

export interface PulseRoomOptions {
  /** private directory for the socket, runtime files and the daemon's log (default: a fresh temporary one, removed by stop()) */
  dir?: string;
  /** member names, in channel order: one channel and one remap sink each (default: none, a stereo room) */
  members?: string[];
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

export class PulseRoom {
  readonly sampleRate: number;
  /** the room's sink, into which every member's sound goes */
  readonly sink = 'room';
  /** the source that hears the whole room */
  readonly monitor = 'room.monitor';
  readonly dir: string;
  private readonly ownDir: boolean;
  private readonly members: string[];
  private daemon: ChildProcess | null = null;
  private recorder: ChildProcess | null = null;
  private recorderExit: Promise<void> | null = null;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private firstBound = Infinity;
  private arrivals: [number, number][] = [];
  private chunkCount = 0;
  private recStderr = '';

  constructor(private readonly opts: PulseRoomOptions = {}) {
    this.sampleRate = opts.sampleRate ?? 44_100;
    this.ownDir = opts.dir === undefined;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'syncplay-pulse-'));
    this.members = opts.members ?? [];
  }

  /** A started room. */
  static async open(opts: PulseRoomOptions = {}): Promise<PulseRoom> {
    const room = new PulseRoom(opts);
    try {
      await room.start();
    } catch (e) {
      await room.stop();
      throw e;
    }
    return room;
  }

  get socket(): string {
    return join(this.dir, 'native');
  }

  /** channels of the room sink and of a recording */
  get channels(): number {
    return this.members.length || 2;
  }

  get pid(): number | null {
    return this.daemon?.pid ?? null;
  }

  /** Environment for every PulseAudio client of this room (members, their mpv, pactl, parec). */
  env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...base, PULSE_SERVER: `unix:${this.socket}`, PULSE_RUNTIME_PATH: join(this.dir, 'runtime') };
  }

  sinkFor(member: string): string {
    return `sp_${member.replace(/[^\w]/g, '_')}`;
  }

  /** the mpv --audio-device value for a member */
  deviceFor(member: string): string {
    return `pulse/${this.sinkFor(member)}`;
  }

  /** Runs pactl against this daemon; returns its stdout, throws with its stderr. */
  pactl(...args: string[]): string {
    const r = spawnSync('pactl', args, { env: this.env(), encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`pactl ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
    return r.stdout.trim();
  }

  /** Starts the daemon and loads the room's sinks. Throws (with where the daemon's log is) if it does not come up. */
  async start(): Promise<void> {
    const home = join(this.dir, 'home');
    for (const d of ['runtime', 'state', 'home', 'config']) mkdirSync(join(this.dir, d), { recursive: true, mode: 0o700 });
    const logPath = join(this.dir, 'pulseaudio.log');
    const daemonEnv: NodeJS.ProcessEnv = { ...this.env(), PULSE_STATE_PATH: join(this.dir, 'state'), HOME: home, XDG_RUNTIME_DIR: join(this.dir, 'runtime'), XDG_CONFIG_HOME: join(this.dir, 'config') };
    delete daemonEnv.DBUS_SESSION_BUS_ADDRESS;
    const log = openSync(logPath, 'a');
    try {
      this.daemon = spawn(
        'pulseaudio',
        ['-n', '--daemonize=no', '--use-pid-file=no', '--exit-idle-time=-1', '--disallow-exit', '--log-target=stderr', '-L', `module-native-protocol-unix socket=${this.socket} auth-anonymous=1`],
        { env: daemonEnv, stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    this.daemon.on('error', () => undefined);
    const logTail = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n') : '(no log)');
    const deadline = monotonicMs() + 10_000;
    for (;;) {
      if (this.daemon.exitCode !== null || this.daemon.signalCode !== null) throw new Error(`pulseaudio exited at start (${logPath}):\n${logTail()}`);
      if (existsSync(this.socket) && spawnSync('pactl', ['info'], { env: this.env(), timeout: 5000 }).status === 0) break;
      if (monotonicMs() > deadline) throw new Error(`pulseaudio did not come up within 10 s (${logPath}):\n${logTail()}`);
      await sleep(100);
    }
    const n = this.members.length;
    const format = [`rate=${this.sampleRate}`, 'format=s16le', 'norewinds=1', `sink_properties=device.description=${this.sink}`];
    if (n === 0) {
      this.pactl('load-module', 'module-null-sink', `sink_name=${this.sink}`, 'channels=2', ...format);
      return;
    }
    const map = Array.from({ length: n }, (_, i) => `aux${i}`).join(',');
    this.pactl('load-module', 'module-null-sink', `sink_name=${this.sink}`, `channels=${n}`, `channel_map=${map}`, ...format);
    this.members.forEach((m, i) => {
      this.pactl('load-module', 'module-remap-sink', `sink_name=${this.sinkFor(m)}`, `master=${this.sink}`, 'channels=1', 'channel_map=mono', `master_channel_map=aux${i}`, 'remix=no');
    });
  }

  /** Starts parec on the room's monitor (all channels); resolves when audio arrives. */
  async startRecording(): Promise<void> {
    const n = this.channels;
    const map = this.members.length ? this.members.map((_, i) => `aux${i}`).join(',') : 'front-left,front-right';
    const rec = spawn(
      'parec',
      ['--raw', '--format=s16le', `--rate=${this.sampleRate}`, `--channels=${n}`, `--channel-map=${map}`, `--latency-msec=${this.opts.recordLatencyMs ?? 10}`, `--device=${this.monitor}`, '--client-name=sync-bench', '--stream-name=room'],
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
    const channels = deinterleaveS16(Buffer.concat(this.chunks, this.bytes), this.channels);
    const out = { channels, sampleRate: this.sampleRate, firstSampleMs: this.firstBound, chunks: this.chunkCount, arrivals: this.arrivals };
    this.chunks = [];
    this.arrivals = [];
    this.bytes = 0;
    return out;
  }

  /** Stops the recorder (if running) and the daemon, by their PIDs; removes the directory if it made it. */
  async stop(): Promise<void> {
    if (this.recorder) await this.stopRecording().catch(() => undefined);
    const d = this.daemon;
    this.daemon = null;
    if (d) await stopProcess(d, 3000);
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
