/**
 * One mpv child process, driven over JSON IPC on an inherited socket.
 *
 * IPC channel: the child's fd 3 is a Node `'pipe'` stdio entry, which on Linux/macOS is a UNIX
 * socketpair (bidirectional), and mpv is told `--input-ipc-client=fd://3`. The channel exists
 * before mpv starts, so there is no start-up race (unlike `--input-ipc-server`, whose socket
 * appears only after ~100–180 ms) and no socket file anyone else could connect to. mpv quits when
 * the other end closes, so an mpv never outlives a crashed Node process.
 *
 * Configuration: mpv runs with `--no-config` by default. A user's mpv.conf and scripts can change
 * anything that matters for sync (audio filters that add latency, `speed`, pitch correction,
 * `autoload`-style scripts that append to the playlist, resume-playback...), and a player that
 * behaves differently on each device defeats the purpose. Settings that are legitimately per-device
 * (the audio device, an `--ao`) are passed explicitly (`audioDevice`, `extraArgs`). Set
 * `useUserConfig: true` to load the user's configuration anyway (our options still win, as
 * command-line options override mpv.conf).
 *
 * Output: mpv prints nothing with `--no-terminal`, so instead the terminal is kept but its input is
 * off and messages are limited to warnings and errors; stdout and stderr lines are kept (last 20)
 * for error messages and passed to `log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { raiseThreads, SYNC_NICE } from '../priority.js';
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import { MpvIpcClient } from './ipc-client.js';

function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const OUTPUT_TAIL_LINES = 20;

export const MPV_INSTALL_HINT = 'mpv not found: install it with `sudo apt install mpv`, or pass --mpv-path';

export interface MpvProcessOptions {
  /** mpv executable (default `mpv`, looked up in PATH). */
  mpvPath?: string;
  /** Value for `--audio-device=` (see `mpv --audio-device=help`). */
  audioDevice?: string;
  /** Extra mpv arguments, appended last so they override ours. */
  extraArgs?: string[];
  /** Diagnostics sink: mpv's own output and process life-cycle messages. */
  log?: (msg: string) => void;
  /** Load the user's mpv.conf/scripts (default false: `--no-config`). */
  useUserConfig?: boolean;
  /** Time allowed from spawn to the first IPC reply, ms (default 10000). */
  startTimeoutMs?: number;
  /** Default per-command timeout of the IPC client, ms (default 5000). */
  commandTimeoutMs?: number;
  /**
   * Scheduling priority (nice) asked for mpv's threads, where permitted (root, CAP_SYS_NICE, a
   * unit's LimitNICE): default −10. mpv must refill the output every few tens of ms; on a busy
   * machine at normal priority it missed that and the sound fell 50–350 ms behind (then a
   * re-sync). Without the privilege nothing changes. null leaves mpv alone.
   */
  nice?: number | null;
}


/** Thrown by start() when the mpv executable does not exist. */
export class MpvNotFoundError extends Error {
  readonly code = 'MPV_NOT_FOUND';
  constructor(mpvPath: string, custom: boolean) {
    super(custom ? `${MPV_INSTALL_HINT} (tried "${mpvPath}")` : MPV_INSTALL_HINT);
    this.name = 'MpvNotFoundError';
  }
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Arguments for mpv, without the executable. */
export function buildMpvArgs(options: Pick<MpvProcessOptions, 'audioDevice' | 'extraArgs' | 'useUserConfig'>): string[] {
  const args = [
    '--idle=yes',
    '--no-video',
    ...(options.useUserConfig ? [] : ['--no-config']),
    '--input-terminal=no',
    '--input-default-bindings=no',
    '--msg-level=all=warn',
    // speed is a plain resampling ratio (no scaletempo: no artefacts, no click back at 1×)
    '--audio-pitch-correction=no',
    // On PulseAudio: report the stream's latency as measured, not PulseAudio's smoothed estimate,
    // which wanders by 0.1–1.5 ms — audio-pts (the sync reading) would wander with it while the
    // sound does not. Ignored by other outputs.
    '--pulse-latency-hacks=yes',
    '--gapless-audio=yes',
    '--prefetch-playlist=yes',
    '--keep-open=no',
    '--input-ipc-client=fd://3',
  ];
  if (options.audioDevice) args.push(`--audio-device=${options.audioDevice}`);
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Events: `('exit', code, signal)` when mpv dies without stop() having been called (after start()
 * resolved; a failed start rejects start() instead).
 */
export class MpvProcess extends EventEmitter {
  private readonly options: MpvProcessOptions;
  private readonly log: (msg: string) => void;
  private child: ChildProcess | null = null;
  private ipc: MpvIpcClient | null = null;
  private exitInfo: ExitInfo | null = null;
  private exited: Promise<ExitInfo> | null = null;
  private stopping = false;
  private ready = false;
  private readonly tail: string[] = [];
  private startupMsValue: number | null = null;

  constructor(options: MpvProcessOptions = {}) {
    super();
    this.options = options;
    this.log = options.log ?? (() => {});
  }

  /** The child's pid once spawned. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The IPC client once start() resolved, until the process ends. */
  get client(): MpvIpcClient | null {
    return this.ready && !this.exitInfo ? this.ipc : null;
  }

  /** True between a successful start() and the process's end. */
  get running(): boolean {
    return this.ready && this.exitInfo === null;
  }

  /** Spawn-to-first-IPC-reply time of the last start(), ms. */
  get startupMs(): number | null {
    return this.startupMsValue;
  }

  /** The last lines mpv printed (stdout and stderr). */
  lastOutput(): string[] {
    return [...this.tail];
  }

  /** Spawns mpv and resolves with a connected client once mpv has answered a first command. */
  async start(): Promise<MpvIpcClient> {
    if (this.child) throw new Error('MpvProcess.start() may only be called once; create a new MpvProcess');
    const mpvPath = this.options.mpvPath ?? 'mpv';
    const args = buildMpvArgs(this.options);
    const t0 = monotonicMs();
    this.log(`mpv: starting ${mpvPath} ${args.join(' ')}`);

    const child = spawn(mpvPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    this.child = child;
    const nice = this.options.nice === undefined ? SYNC_NICE : this.options.nice;
    // now, before mpv starts its threads (they inherit it), and again once it is up
    if (nice !== null && child.pid !== undefined && !raiseThreads(child.pid, nice)) this.log(`mpv: could not raise its priority to nice ${nice} (not permitted); continuing at normal priority`);
    let spawnError: NodeJS.ErrnoException | null = null;
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        // 'error' without 'exit' means the process never ran (spawn failure).
        if (child.pid === undefined) {
          spawnError = err;
          this.exitInfo = { code: null, signal: null };
          resolve(this.exitInfo);
        } else {
          this.log(`mpv: process error: ${err.message}`);
        }
      });
      // 'close' (not 'exit'): all of mpv's output has been read by then, so the tail is complete.
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo && spawnError) return;
        this.exitInfo = { code, signal };
        this.log(`mpv: exited (code ${code}, signal ${signal})`);
        resolve(this.exitInfo);
        if (this.ready && !this.stopping) this.emit('exit', code, signal);
      });
    });
    this.captureOutput(child.stdout);
    this.captureOutput(child.stderr);

    const socket = child.stdio[3] as Duplex | null;
    if (!socket) throw new Error('mpv: no IPC channel on fd 3');
    const client = new MpvIpcClient(socket, { log: this.log, timeoutMs: this.options.commandTimeoutMs });
    this.ipc = client;

    try {
      await client.command(['get_property', 'mpv-version'], { timeoutMs: this.options.startTimeoutMs ?? 10_000 });
    } catch (err) {
      // Give 'error'/'close' a moment so the reason (missing binary, bad option) is known.
      await settlesWithin(this.exited, 1000);
      const exit = this.exitInfo;
      if (spawnError) {
        const e = spawnError as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') throw new MpvNotFoundError(mpvPath, this.options.mpvPath !== undefined);
        throw new Error(`cannot start mpv (${mpvPath}): ${e.message}`);
      }
      if (exit) throw new Error(`mpv exited during start-up (${describeExit(exit)})${this.tailSuffix()}`);
      await this.kill();
      throw new Error(`mpv did not answer on IPC: ${(err as Error).message}${this.tailSuffix()}`);
    }
    this.startupMsValue = monotonicMs() - t0;
    if (nice !== null && child.pid !== undefined) raiseThreads(child.pid, nice);
    this.ready = true;
    this.log(`mpv: ready in ${this.startupMsValue.toFixed(0)} ms (pid ${child.pid})`);
    return client;
  }

  /** Quits mpv: `quit` command, then SIGTERM, then SIGKILL, each after a timeout. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopping = true;
    if (!this.child || !this.exited || this.exitInfo) return;
    const client = this.ipc;
    if (client && !client.closed) {
      client.command(['quit'], { timeoutMs }).catch(() => {});
      if (await settlesWithin(this.exited, timeoutMs)) return;
      this.log('mpv: did not quit, sending SIGTERM');
    }
    this.child.kill('SIGTERM');
    if (await settlesWithin(this.exited, timeoutMs)) return;
    this.log('mpv: still running, sending SIGKILL');
    await this.kill();
  }

  private async kill(): Promise<void> {
    this.stopping = true;
    if (!this.child || !this.exited || this.exitInfo) return;
    this.child.kill('SIGKILL');
    await settlesWithin(this.exited, 5000);
  }

  private captureOutput(stream: Readable | null): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.addLine(line);
    });
    stream.on('end', () => {
      if (partial) this.addLine(partial);
      partial = '';
    });
  }

  private addLine(raw: string): void {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    this.tail.push(line);
    if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.shift();
    this.log(`mpv: ${line}`);
  }

  private tailSuffix(): string {
    return this.tail.length ? `; mpv said:\n${this.tail.join('\n')}` : '';
  }
}

function describeExit(e: ExitInfo): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
