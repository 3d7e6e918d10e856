/**
 * Keeps one mpv running: restarts it with exponential backoff whenever it dies.
 *
 * Events:
 * - `('ready', client)` after the first start and after every restart: the owner must re-arm
 *   playback (loadfile, seek, speed...) because a new mpv starts idle;
 * - `('down', code, signal)` when the running mpv dies (current() is null from then on);
 * - `('restart-failed', error, delayMs)` when a restart attempt fails; another follows after delayMs.
 *
 * The first start() is not retried: a missing binary or a bad option surfaces at once.
 */
import { EventEmitter } from 'node:events';
import type { MpvIpcClient } from './ipc-client.js';
import { MpvProcess, type MpvProcessOptions } from './mpv-process.js';

export interface SupervisedMpvOptions extends MpvProcessOptions {
  /** First restart delay, ms (default 200). */
  minBackoffMs?: number;
  /** Largest restart delay, ms (default 5000). */
  maxBackoffMs?: number;
  /** A process that ran this long resets the backoff to minBackoffMs, ms (default 10000). */
  stableAfterMs?: number;
}

export class SupervisedMpv extends EventEmitter {
  private readonly options: SupervisedMpvOptions;
  private readonly log: (msg: string) => void;
  private proc: MpvProcess | null = null;
  private clientRef: MpvIpcClient | null = null;
  private stopped = false;
  private started = false;
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | null = null;
  private upSinceMs = 0;
  private restartCount = 0;

  constructor(options: SupervisedMpvOptions = {}) {
    super();
    this.options = options;
    this.log = options.log ?? (() => {});
    this.backoffMs = this.minBackoff;
  }

  /** The live client, or null while mpv is down or restarting. */
  current(): MpvIpcClient | null {
    return this.clientRef;
  }

  /** The running mpv's pid, if any. */
  get pid(): number | undefined {
    return this.clientRef ? this.proc?.pid : undefined;
  }

  /** Number of successful restarts so far. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Starts mpv; resolves with the first client (also emitted as 'ready'). */
  async start(): Promise<MpvIpcClient> {
    if (this.started) throw new Error('SupervisedMpv.start() may only be called once');
    this.started = true;
    return this.launch(false);
  }

  /** Stops supervising and quits mpv. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.clientRef = null;
    const proc = this.proc;
    this.proc = null;
    if (proc) await proc.stop();
  }

  private get minBackoff(): number {
    return this.options.minBackoffMs ?? 200;
  }

  private async launch(isRestart: boolean): Promise<MpvIpcClient> {
    const proc = new MpvProcess(this.options);
    this.proc = proc;
    proc.on('exit', (code: number | null, signal: NodeJS.Signals | null) => this.onExit(proc, code, signal));
    let client: MpvIpcClient;
    try {
      client = await proc.start();
    } catch (err) {
      if (this.proc === proc) this.proc = null;
      throw err;
    }
    if (this.stopped || this.proc !== proc) {
      await proc.stop();
      throw new Error('SupervisedMpv stopped during start-up');
    }
    this.clientRef = client;
    this.upSinceMs = Date.now();
    if (isRestart) this.restartCount++;
    try {
      this.emit('ready', client);
    } catch (err) {
      this.log(`'ready' listener threw: ${(err as Error)?.stack ?? String(err)}`);
    }
    return client;
  }

  private onExit(proc: MpvProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc !== proc || this.stopped) return;
    this.clientRef = null;
    this.proc = null;
    const ranMs = Date.now() - this.upSinceMs;
    if (ranMs >= (this.options.stableAfterMs ?? 10_000)) this.backoffMs = this.minBackoff;
    const tail = proc.lastOutput().slice(-3).join(' | ');
    this.log(`mpv died (code ${code}, signal ${signal}) after ${ranMs} ms${tail ? `: ${tail}` : ''}`);
    this.emit('down', code, signal);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 5000);
    this.log(`restarting mpv in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.launch(true).catch((err: Error) => {
          if (this.stopped) return;
          this.log(`mpv restart failed: ${err.message}`);
          this.emit('restart-failed', err, this.backoffMs);
          this.scheduleRestart();
      });
    }, delay);
  }
}
