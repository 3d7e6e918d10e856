/**
 * A program in a real pseudo-terminal, driven and read by a benchmark: util-linux `script`
 * allocates the pty and copies our pipe to it (keys) and its output back to us, so the program
 * sees a terminal of a chosen size (it sets raw mode, gets SIGWINCH-free columns and rows) while
 * every byte it draws reaches us with the time it arrived. `script` is in util-linux, present
 * wherever the project runs; no native module is needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { childPids, shellQuote } from './child-processes.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001B(?:\[[0-9;?<>=]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)|[@-Z\\-_])/g;

/** The text of terminal output without its escape sequences. */
export function plainText(s: string): string {
  return s.replace(ANSI, '');
}

interface Waiter {
  from: number;
  pattern: RegExp;
  resolve: (atMs: number) => void;
}

export class Terminal {
  readonly proc: ChildProcess;
  /** everything drawn so far, raw */
  output = '';
  private readonly waiters = new Set<Waiter>();

  constructor(
    argv: string[],
    opts: { cols: number; rows: number; env: NodeJS.ProcessEnv; cwd?: string },
  ) {
    const command = `stty cols ${opts.cols} rows ${opts.rows}; exec ${argv.map(shellQuote).join(' ')}`;
    this.proc = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
    this.proc.stdout!.on('data', (d: Buffer) => {
      const at = performance.now();
      this.output += d.toString('utf8');
      for (const w of this.waiters) {
        // Look back a little before `from`, so a match split across the key press's chunk boundary is not missed.
        if (w.pattern.test(plainText(this.output.slice(Math.max(0, w.from))))) {
          this.waiters.delete(w);
          w.resolve(at);
        }
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString('utf8')));
  }

  /** The program's own PID (script's child), once it runs. */
  programPid(): number | null {
    return this.proc.pid === undefined ? null : (childPids(this.proc.pid)[0] ?? null);
  }

  /** Types `keys` into the terminal; returns the moment they were handed to the pty. */
  type(keys: string): number {
    const at = performance.now();
    this.proc.stdin!.write(keys);
    return at;
  }

  /** Resolves with the arrival time of the output that first matches `pattern` in what was drawn after offset `from`. */
  waitFor(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<number> {
    if (pattern.test(plainText(this.output.slice(from)))) return Promise.resolve(performance.now());
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = {
        from,
        pattern,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no ${pattern} on the terminal within ${timeoutMs} ms; it shows:\n${plainText(this.output.slice(-3000))}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const pid = this.programPid();
    const exited = new Promise((r) => this.proc.once('exit', r));
    try {
      if (pid !== null) process.kill(pid, 'SIGTERM');
      else this.proc.kill('SIGTERM');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        if (pid !== null) process.kill(pid, 'SIGKILL');
        this.proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  }
}
