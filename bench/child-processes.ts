/**
 * The benchmarks' own child processes (leader, members, simulated members): started with their
 * output in a log file, tracked, and stopped by PID only — SIGTERM, then SIGKILL after a grace
 * period, and anything they started and left behind (an mpv) killed by PID too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** the command line, as a user could type it */
  command: string;
  logPath: string;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  exited: boolean;
  exitedPromise: Promise<void>;
}

/** Every child still running. */
export const children = new Set<Child>();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export interface SpawnOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** open an IPC channel to the child */
  ipc?: boolean;
  /** the command line to report (default: `node ARGS…`) */
  command?: string;
}

/** Starts `node ARGS…`, its stdout and stderr appended to `logPath`. */
export function spawnChild(name: string, args: string[], logPath: string, opts: SpawnOptions): Child {
  const fd = openSync(logPath, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, args, { cwd: opts.cwd, stdio: opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd], ...(opts.env ? { env: opts.env } : {}) });
  } finally {
    closeSync(fd);
  }
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  let resolveExit!: () => void;
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    command: opts.command ?? ['node', ...args].map(shellQuote).join(' '),
    logPath,
    exitCode: null,
    exitSignal: null,
    exited: false,
    exitedPromise: new Promise<void>((r) => (resolveExit = r)),
  };
  proc.on('exit', (code, signal) => {
    child.exited = true;
    child.exitCode = code;
    child.exitSignal = signal;
    resolveExit();
  });
  proc.on('error', () => {
    child.exited = true;
    resolveExit();
  });
  children.add(child);
  return child;
}

/** Direct children of a process, from every thread's /proc children list (empty when it is gone). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const k of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        const n = Number(k);
        if (k && Number.isInteger(n) && !out.includes(n)) out.push(n);
      }
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** PIDs of the processes below `pid` (Linux /proc; empty elsewhere). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const n of childPids(p)) {
      if (!out.includes(n)) {
        out.push(n);
        walk(n);
      }
    }
  };
  walk(pid);
  return out;
}

export function cmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

/** SIGTERM, then SIGKILL after a grace period; what it started and left behind is killed by PID too. */
export async function stopChild(child: Child, graceMs = 5000): Promise<{ clean: boolean; orphans: number[] }> {
  const below = descendants(child.pid).map((pid) => ({ pid, cmd: cmdline(pid) }));
  let clean = true;
  if (!child.exited) {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    await Promise.race([child.exitedPromise, sleep(graceMs)]);
    if (!child.exited) {
      clean = false;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await Promise.race([child.exitedPromise, sleep(2000)]);
    }
  }
  children.delete(child);
  // Whatever the child started and did not take down with it, if it is still the same process.
  const orphans: number[] = [];
  await sleep(below.length ? 200 : 0);
  for (const { pid, cmd } of below) {
    const now = cmdline(pid);
    if (now !== null && cmd !== null && now === cmd) {
      orphans.push(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  return { clean, orphans };
}

/** Stops a process we spawned: SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone (or 2 s after SIGKILL). */
export async function stopProcess(p: ChildProcess, graceMs = 2000): Promise<void> {
  const gone = (): boolean => p.exitCode !== null || p.signalCode !== null;
  if (gone() || p.pid === undefined) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  await Promise.race([exited, sleep(graceMs)]);
  if (!gone()) {
    p.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}

/** Last resort on exit: SIGKILL every child still running and whatever it started, by PID. */
export function killChildrenNow(): void {
  for (const c of children) {
    if (c.exited) continue;
    for (const pid of descendants(c.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** The last lines of a child's log, indented, for error messages. */
export function logTail(child: Child, lines = 15): string {
  try {
    return readFileSync(child.logPath, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

/** Throws, with the log's tail, if any of these children has exited. */
export function assertAlive(list: readonly Child[]): void {
  for (const c of list) {
    if (c.exited) throw new Error(`${c.name} exited (code ${c.exitCode ?? '—'}, signal ${c.exitSignal ?? '—'}); last log lines:\n${logTail(c)}`);
  }
}
