/**
 * Snapcast on the benchmark's meter: one snapserver streaming a decoded track (a `file://`
 * source: raw PCM read at real time, looped) and one snapclient per channel of a PulseRoom, each
 * on its own remap sink (`--player pulse -s <sink>`), so Snapcast's clients are recorded exactly
 * like syncplay's members: same room, same recorder, same correlation.
 *
 * Debian's snapserver/snapclient 0.26. The server listens on 127.0.0.1 only (stream port picked
 * free by the kernel just before; its JSON-RPC interfaces are off) and keeps its state in the
 * room's private directory; it advertises nothing unless an avahi daemon runs. Only the
 * processes started here are stopped, by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sleep, stopProcess } from './child-processes.js';
import type { PulseRoom } from './pulse-room.js';

export interface SnapcastRoomOptions {
  room: PulseRoom;
  /** private directory (state, logs) */
  dir: string;
  /** raw s16le PCM, stereo, at sampleRate */
  pcmPath: string;
  sampleRate: number;
  /** client names = the room's member names */
  clients: string[];
  /** the server's end-to-end buffer, ms (Snapcast's default 1000) */
  bufferMs?: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export class SnapcastRoom {
  private procs: ChildProcess[] = [];
  port = 0;
  readonly commands: string[] = [];

  constructor(private readonly o: SnapcastRoomOptions) {}

  get pids(): (number | null)[] {
    return this.procs.map((p) => p.pid ?? null);
  }

  private spawnLogged(cmd: string, args: string[], log: string, env?: NodeJS.ProcessEnv): ChildProcess {
    const fd = openSync(join(this.o.dir, log), 'a');
    try {
      const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...(env ? { env } : {}) });
      p.on('error', () => undefined);
      this.procs.push(p);
      this.commands.push([cmd, ...args].join(' '));
      return p;
    } finally {
      closeSync(fd);
    }
  }

  /** Starts the server, then the clients; resolves once all of them are running. */
  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    this.port = await freePort();
    const server = this.spawnLogged(
      'snapserver',
      [
        '-c', '/dev/null',
        `--server.datadir=${this.o.dir}`,
        '--http.enabled=false',
        '--tcp.enabled=false',
        '--stream.bind_to_address=127.0.0.1',
        `--stream.port=${this.port}`,
        `--stream.buffer=${this.o.bufferMs ?? 1000}`,
        `--stream.source=file://${this.o.pcmPath}?name=default&sampleformat=${this.o.sampleRate}:16:2`,
        '--logging.sink=stderr',
      ],
      'snapserver.log',
    );
    await sleep(500);
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`snapserver exited at start (see ${join(this.o.dir, 'snapserver.log')})`);
    this.o.clients.forEach((name, i) => {
      this.spawnLogged(
        'snapclient',
        ['-h', '127.0.0.1', '-p', String(this.port), '--player', 'pulse', '-s', this.o.room.sinkFor(name), '--hostID', name, '-i', String(i + 1), '--logsink', 'stderr'],
        `snapclient-${name}.log`,
        this.o.room.env(),
      );
    });
    await sleep(300);
    for (const p of this.procs) if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${p.spawnfile} exited at start (see ${this.o.dir})`);
  }

  /** SIGTERM, then SIGKILL after 2 s, each process by its PID: clients first. */
  async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) await stopProcess(p, 2000);
    this.procs = [];
  }
}
