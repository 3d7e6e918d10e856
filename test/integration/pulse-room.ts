/**
 * A private PulseAudio daemon standing in for a room: no sound card, no user session needed.
 *
 * - The daemon runs with its own HOME / XDG_RUNTIME_DIR / XDG_CONFIG_HOME inside a temp dir, loads
 *   no default.pa (-n) and serves one UNIX socket with anonymous auth; every client (the members'
 *   mpv, parec) reaches it through PULSE_SERVER=unix:<dir>/native (`env`). Nothing touches a
 *   user's own PulseAudio / PipeWire.
 * - The room is ONE null sink (48 kHz, stereo, rewinds off): every speaker plays into it and a
 *   recorder of its monitor hears them all on one sample clock. With rewinds on, a monitor
 *   recording holds re-mixed snippets; off, a stream joins at the next mixing block.
 * - stop() ends the daemon by the PID it wrote (--use-pid-file) and removes the temp dir.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The first missing program among those the room needs, or null when all are installed. */
export function missingPulseTools(extra: string[] = []): string | null {
  for (const tool of ['pulseaudio', 'pactl', 'parec', ...extra]) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) return tool;
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface PulseRoomOptions {
  /** name of the room sink (default "room"); its monitor source is `${sinkName}.monitor` */
  sinkName?: string;
  rate?: number;
}

export class PulseRoom {
  readonly server: string;
  readonly sink: string;
  readonly monitor: string;
  private constructor(
    readonly dir: string,
    readonly pid: number,
    readonly env: NodeJS.ProcessEnv,
    sink: string,
  ) {
    this.server = env.PULSE_SERVER!;
    this.sink = sink;
    this.monitor = `${sink}.monitor`;
  }

  /** Starts the daemon and loads the room sink. Throws with the daemon's log if it does not come up. */
  static async start(o: PulseRoomOptions = {}): Promise<PulseRoom> {
    const dir = mkdtempSync(join(tmpdir(), 'syncplay-pulse-'));
    const home = join(dir, 'home');
    const runtime = join(dir, 'runtime');
    const config = join(dir, 'config');
    for (const d of [home, runtime, config]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const socket = join(dir, 'native');
    const log = join(dir, 'pulse.log');
    const daemonEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: config };
    delete daemonEnv.PULSE_SERVER;
    delete daemonEnv.DBUS_SESSION_BUS_ADDRESS;
    const r = spawnSync(
      'pulseaudio',
      [
        '-n',
        '--daemonize=yes',
        '--system=no',
        '--use-pid-file=yes',
        '--exit-idle-time=-1',
        '--disallow-exit',
        `--log-target=file:${log}`,
        '-L',
        `module-native-protocol-unix socket=${socket} auth-anonymous=1`,
      ],
      { env: daemonEnv, encoding: 'utf8', timeout: 15_000 },
    );
    const pidFile = join(runtime, 'pulse', 'pid');
    const readLog = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-20).join('\n') : '(no log)');
    if (r.status !== 0 || !existsSync(pidFile)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pulseaudio did not start (exit ${r.status}): ${r.stderr}\n${readLog()}`);
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const env: NodeJS.ProcessEnv = { ...process.env, PULSE_SERVER: `unix:${socket}` };
    const room = new PulseRoom(dir, pid, env, o.sinkName ?? 'room');
    // The socket may take a moment after the daemon forked.
    for (let i = 0; ; i++) {
      if (spawnSync('pactl', ['info'], { env, encoding: 'utf8', timeout: 5000 }).status === 0) break;
      if (i > 50) {
        await room.stop();
        throw new Error(`pulseaudio (pid ${pid}) does not answer on ${socket}\n${readLog()}`);
      }
      await sleep(100);
    }
    room.pactl([
      'load-module',
      'module-null-sink',
      `sink_name=${room.sink}`,
      `rate=${o.rate ?? 48_000}`,
      'channels=2',
      'format=s16le',
      'norewinds=1',
      `sink_properties=device.description=${room.sink}`,
    ]);
    return room;
  }

  /** Runs pactl against this daemon; returns its stdout, throws with its stderr. */
  pactl(args: string[]): string {
    const r = spawnSync('pactl', args, { env: this.env, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`pactl ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** Ends the daemon by its PID (SIGTERM, then SIGKILL) and removes the temp dir. */
  async stop(): Promise<void> {
    if (alive(this.pid)) {
      process.kill(this.pid, 'SIGTERM');
      for (let i = 0; i < 50 && alive(this.pid); i++) await sleep(100);
      if (alive(this.pid)) process.kill(this.pid, 'SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
