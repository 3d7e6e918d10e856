/**
 * CPU hog for the sync benchmark: one busy-looping child per core (default), at normal priority
 * (nice 0, the same as the leader, members and mpv) unless told otherwise, so the players have to
 * share every core with a process that never sleeps. Each child is a plain `node -e` loop; they
 * are stopped by PID.
 *
 *   const hog = new CpuHog({ workers: 2, nice: 0 }); hog.start(); …; await hog.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface CpuHogOptions {
  /** busy children (default: one per core) */
  workers?: number;
  /** nice value of the children (default 0: normal priority) */
  nice?: number;
}

const LOOP = 'let x=0;for(;;){for(let i=0;i<1e7;i++)x=(x*1103515245+12345)%2147483648;}';

export class CpuHog {
  private readonly procs: ChildProcess[] = [];
  readonly workers: number;
  readonly nice: number;

  constructor(opts: CpuHogOptions = {}) {
    this.workers = opts.workers ?? availableParallelism();
    this.nice = opts.nice ?? 0;
  }

  get pids(): number[] {
    return this.procs.map((p) => p.pid!).filter((p) => p !== undefined);
  }

  start(): void {
    for (let i = 0; i < this.workers; i++) {
      const args = ['-e', LOOP];
      const p = this.nice !== 0 ? spawn('nice', ['-n', String(this.nice), process.execPath, ...args], { stdio: 'ignore' }) : spawn(process.execPath, args, { stdio: 'ignore' });
      this.procs.push(p);
    }
  }

  describe(): string {
    return `${this.workers} busy-looping node process(es) at nice ${this.nice}`;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.procs.splice(0).map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
  }
}
