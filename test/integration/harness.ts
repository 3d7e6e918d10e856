/**
 * Integration harness: runs the real CLI (`node bin/syncplay …`) as child processes — a leader
 * and members with real mpv (`--ao=null`), real sockets and real files — and observes them
 * through their logs, the leader's control socket and the members' telemetry files.
 *
 * Every process on this machine reads the same CLOCK_MONOTONIC, so a telemetry reading's
 * `localMs` is also an instant on the leader's clock: its TRUE sync error is
 * audioPtsSec − playhead(timeline, localMs + latencyOffsetMs), whatever the member's own clock
 * estimate says.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, cmdline } from '../../bench/child-processes.js';
import { readTelemetry, trueErrorMs, type TelemetryLine as Reading } from '../../bench/telemetry.js';
import { sendControl } from '../../src/cli/ctl-command.js';
import type { ControlRequest } from '../../src/leader/control-server.js';
import type { LeaderStatus, MemberView } from '../../src/leader/leader.js';
import type { Timeline, Track } from '../../src/protocol/index.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'syncplay');
export const BUNDLED_DIR = join(ROOT, 'playlists');
export const BUNDLED_FILES = ['01-morning-drift.ogg', '02-harbour-lights.ogg', '03-paper-lanterns.ogg'] as const;

/** The same clock as the product's monotonicMs(): CLOCK_MONOTONIC via process.hrtime. */
export function nowMs(): number {
  const ns = process.hrtime.bigint();
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
export const sleepUntil = (monotonic: number): Promise<void> => sleep(monotonic - nowMs());

/** One telemetry line written by `syncplay member --telemetry FILE`. */
export type { TelemetryLine as Reading } from '../../bench/telemetry.js';
export { readTelemetry, trueErrorMs };

/** Direct children of a process (e.g. a member's mpv). */
export { childPids };

export function commandLine(pid: number): string {
  return cmdline(pid)?.trim() ?? '';
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The mpv child of a member process, if it has one right now. */
export function mpvChildOf(pid: number): number | null {
  return childPids(pid).find((c) => /(^|\/)mpv( |$)/.test(commandLine(c))) ?? null;
}

/** A child process with its output captured line by line. */
export class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly listeners = new Set<(line: string) => void>();
  /** mpv (or other) descendants seen while it ran, killed on stop() if they outlive it */
  private readonly descendants = new Set<number>();

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    const take = (stream: NodeJS.ReadableStream | null, tag: string): void => {
      if (!stream) return;
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.push(tag ? `${tag}${line}` : line);
      });
      stream.on('end', () => {
        if (partial) this.push(tag ? `${tag}${partial}` : partial);
        partial = '';
      });
    };
    take(child.stderr, '');
    take(child.stdout, '[stdout] ');
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === null;
  }

  get output(): string {
    return this.lines.join('\n');
  }

  private push(line: string): void {
    this.lines.push(line);
    for (const l of this.listeners) l(line);
  }

  /** Resolves with the first line (already seen or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs = 15_000, fromLine = 0): Promise<RegExpMatchArray> {
    for (const line of this.lines.slice(fromLine)) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`${this.label}: no log line matching ${re} within ${timeoutMs} ms${this.exit ? ` (exited: ${JSON.stringify(this.exit)})` : ''}\n${this.recentLog()}`));
      }, timeoutMs);
      const listener = (line: string): void => {
        const m = line.match(re);
        if (!m) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(m);
      };
      this.listeners.add(listener);
      void this.exited.then((e) => {
        if (!this.listeners.has(listener)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        reject(new Error(`${this.label} exited (${JSON.stringify(e)}) before logging a line matching ${re}\n${this.recentLog()}`));
      });
    });
  }

  recentLog(n = 25): string {
    const tail = this.lines.slice(-n);
    return `--- last ${tail.length} lines of ${this.label} (pid ${this.child.pid}) ---\n${tail.join('\n')}`;
  }

  /** Remembers the current children so they can be reaped if they outlive this process. */
  noteDescendants(): void {
    if (this.running) for (const c of childPids(this.pid)) this.descendants.add(c);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) {
      try {
        process.kill(this.pid, signal);
      } catch {
        /* already gone */
      }
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; then kills any remembered descendant still alive. */
  async stop(graceMs = 4000): Promise<void> {
    this.noteDescendants();
    if (this.running) {
      this.kill('SIGTERM');
      const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    for (const pid of this.descendants) {
      if (isAlive(pid) && /mpv/.test(commandLine(pid))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
}

export interface LeaderHandle {
  proc: Proc;
  port: number;
  socket: string;
  /** the web remote's link (token included) when started with `web: true` */
  webUrl: string | null;
}

export interface MemberHandle {
  proc: Proc;
  name: string;
  musicDir: string;
  telemetryFile: string;
  /** every reading written so far */
  readings(): Reading[];
}

export interface LeaderStartOptions {
  musicDir?: string;
  port?: number;
  socket?: string;
  secretFile?: string;
  /** pass --open (no party secret); default: true unless secretFile or secure is given */
  open?: boolean;
  /** the default secure party: a party secret created in this cluster's state dir */
  secure?: boolean;
  args?: string[];
  /** serve the web remote on a free port (default: --no-web) */
  web?: boolean;
}

export interface MemberStartOptions {
  name: string;
  musicDir?: string;
  port?: number;
  secretFile?: string;
  latencyOffsetMs?: number;
  args?: string[];
  /** wait until the leader lists it connected with a clock estimate (default true) */
  waitJoined?: boolean;
  /** its own state dir (XDG_STATE_HOME): another device; default the cluster's shared one */
  stateHome?: string;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** One test's processes and temp dir. Call cleanup() in afterAll/afterEach. */
export class Cluster {
  readonly tmp: string;
  readonly procs: Proc[] = [];
  leader: LeaderHandle | null = null;
  private lastStatus: LeaderStatus | null = null;

  constructor(label = 'syncplay-it') {
    this.tmp = mkdtempSync(join(tmpdir(), `${label}-`));
  }

  spawn(label: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...this.env({ NO_COLOR: '1' }), ...env } });
    const proc = new Proc(label, child);
    this.procs.push(proc);
    return proc;
  }

  /** The environment of this cluster's processes: its own state and caches, so tests start cold and leave nothing behind. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, XDG_STATE_HOME: join(this.tmp, 'xdg-state'), XDG_CACHE_HOME: join(this.tmp, 'xdg-cache'), ...extra };
  }

  /** Runs the CLI to completion. */
  async run(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: this.env() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    clearTimeout(timer);
    return { code, stdout, stderr };
  }

  /** A private copy of the bundled tracks and playlist, optionally altered. */
  musicDir(name: string, alter?: (dir: string) => void): string {
    const dir = join(this.tmp, name);
    cpSync(BUNDLED_DIR, dir, { recursive: true });
    alter?.(dir);
    return dir;
  }

  writeSecret(name: string, secret: string): string {
    const file = join(this.tmp, name);
    writeFileSync(file, `${secret}\n`);
    chmodSync(file, 0o600);
    return file;
  }

  async startLeader(o: LeaderStartOptions = {}): Promise<LeaderHandle> {
    const socket = o.socket ?? join(this.tmp, 'leader.sock');
    // Never announced on the host's network; state (party secret, settings) in this cluster's folder.
    const args = ['leader', '--music-dir', o.musicDir ?? BUNDLED_DIR, '--host', '127.0.0.1', '--port', String(o.port ?? 0), '--socket', socket, '--no-ui', '--no-advertise', '--state-dir', join(this.tmp, 'leader-state')];
    if (o.secretFile) args.push('--secret-file', o.secretFile);
    else if (o.open ?? !o.secure) args.push('--open');
    args.push(...(o.web ? ['--web', '0'] : ['--no-web']));
    args.push(...(o.args ?? []));
    const proc = this.spawn('leader', args);
    const m = await proc.waitForLine(/leader listening on 127\.0\.0\.1:(\d+)/);
    await proc.waitForLine(/control socket /);
    const web = o.web ? (await proc.waitForLine(/web remote: (http:\/\/\S+)/))[1]! : null;
    this.leader = { proc, port: Number(m[1]), socket, webUrl: web };
    return this.leader;
  }

  async startMember(o: MemberStartOptions): Promise<MemberHandle> {
    const port = o.port ?? this.requireLeader().port;
    const telemetryFile = join(this.tmp, `${o.name}.telemetry.jsonl`);
    const musicDir = o.musicDir ?? BUNDLED_DIR;
    const args = ['member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', musicDir, '--name', o.name, '--mpv-arg=--ao=null', '--telemetry', telemetryFile];
    if (o.secretFile) args.push('--secret-file', o.secretFile);
    if (o.latencyOffsetMs !== undefined) args.push('--latency-offset', String(o.latencyOffsetMs));
    args.push(...(o.args ?? []));
    const proc = this.spawn(`member ${o.name}`, args, o.stateHome ? { XDG_STATE_HOME: o.stateHome } : {});
    const handle: MemberHandle = { proc, name: o.name, musicDir, telemetryFile, readings: () => readTelemetry(telemetryFile) };
    if (o.waitJoined ?? true) {
      await this.waitFor(`member ${o.name} to join with a clock estimate`, (s) => {
        const m = memberNamed(s, o.name);
        return m?.connected && m.rttMs !== null ? m : undefined;
      });
    }
    return handle;
  }

  requireLeader(): LeaderHandle {
    if (!this.leader) throw new Error('no leader started');
    return this.leader;
  }

  async ctl(request: ControlRequest): Promise<Record<string, unknown>> {
    return sendControl(request, this.requireLeader().socket);
  }

  /** Sends a command that must succeed; returns the new timeline. */
  async command(request: Exclude<ControlRequest, { cmd: 'status' }>): Promise<Timeline> {
    const reply = await this.ctl(request);
    if (!reply.ok) throw new Error(`ctl ${JSON.stringify(request)} failed: ${String(reply.error)}\n${this.recentLogs()}`);
    return reply.timeline as Timeline;
  }

  /** Whether status() asks for the full track list (big-playlist tests turn it off). */
  statusWithTracks = true;

  async status(): Promise<LeaderStatus> {
    const reply = await this.ctl(this.statusWithTracks ? { cmd: 'status', tracks: true } : { cmd: 'status' });
    if (!reply.ok) throw new Error(`status failed: ${String(reply.error)}`);
    this.lastStatus = reply.status as LeaderStatus;
    return this.lastStatus;
  }

  /**
   * Polls the leader's status until `check` returns something truthy (returned), or fails after
   * the timeout with `what`, the last status's members and the recent logs of every process.
   */
  async waitFor<T>(what: string, check: (s: LeaderStatus) => T | undefined | null | false, o: WaitOptions = {}): Promise<T> {
    return this.poll(what, async () => check(await this.status()), o);
  }

  /** Polls `check` (anything) until it returns something truthy. */
  async poll<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, o: WaitOptions = {}): Promise<T> {
    const timeoutMs = o.timeoutMs ?? 15_000;
    const deadline = nowMs() + timeoutMs;
    let lastError: unknown = null;
    for (;;) {
      try {
        const v = await check();
        if (v) return v;
        lastError = null;
      } catch (e) {
        lastError = e;
      }
      if (nowMs() > deadline) {
        const members = this.lastStatus ? this.lastStatus.members.map((m) => `  ${describeMember(m)}`).join('\n') : '  (no status)';
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}` +
            (lastError ? `\nlast error: ${(lastError as Error).message}` : '') +
            `\nlast leader status: timeline ${JSON.stringify(this.lastStatus?.timeline)}\n${members}\n${this.recentLogs()}`,
        );
      }
      await sleep(o.intervalMs ?? 200);
    }
  }

  recentLogs(n = 15): string {
    return this.procs.map((p) => p.recentLog(n)).join('\n');
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export function memberNamed(s: LeaderStatus, name: string): MemberView | undefined {
  return s.members.find((m) => m.name === name && m.connected) ?? s.members.find((m) => m.name === name);
}

export function describeMember(m: MemberView): string {
  return `${m.name}: ${m.connected ? 'connected' : 'LOST'} player=${m.playerState} track=${m.trackIndex} files=${m.fileStatus}${m.fileProblems.length ? JSON.stringify(m.fileProblems) : ''} err=${m.errorMs?.toFixed(2) ?? '—'} ms speed=${m.speed ?? '—'} rtt=${m.rttMs?.toFixed(3) ?? '—'} hardSeeks=${m.hardSeeks} age=${m.statusAgeMs?.toFixed(0) ?? '—'} ms`;
}

export interface SyncReport {
  member: string;
  count: number;
  maxAbsMs: number;
  meanMs: number;
  unmatched: number;
  worst: { localMs: number; errorMs: number | null; trackIndex: number; audioPtsSec: number } | null;
}

/** True errors of one member's readings taken in [fromMs, toMs] against `timeline`. */
export function syncReport(m: MemberHandle, timeline: Timeline, tracks: readonly Track[], fromMs: number, toMs: number): SyncReport {
  const rs = m.readings().filter((r) => r.localMs >= fromMs && r.localMs <= toMs);
  let maxAbs = 0;
  let sum = 0;
  let n = 0;
  let unmatched = 0;
  let worst: SyncReport['worst'] = null;
  for (const r of rs) {
    const e = trueErrorMs(r, timeline, tracks);
    if (e === null) {
      unmatched += 1;
      worst = { localMs: r.localMs, errorMs: null, trackIndex: r.trackIndex, audioPtsSec: r.audioPtsSec };
      continue;
    }
    sum += e;
    n += 1;
    if (Math.abs(e) >= maxAbs && (worst === null || worst.errorMs !== null)) {
      maxAbs = Math.abs(e);
      worst = { localMs: r.localMs, errorMs: e, trackIndex: r.trackIndex, audioPtsSec: r.audioPtsSec };
    }
  }
  return { member: m.name, count: rs.length, maxAbsMs: maxAbs, meanMs: n ? sum / n : NaN, unmatched, worst };
}

export function formatReports(reports: SyncReport[]): string {
  return reports
    .map((r) => `${r.member}: ${r.count} readings, max |true error| ${r.maxAbsMs.toFixed(2)} ms, mean ${r.meanMs.toFixed(2)} ms, unmatched ${r.unmatched}, worst ${JSON.stringify(r.worst)}`)
    .join('\n');
}

/**
 * Waits until `toMs`, then checks that every member has at least `minReadings` readings in
 * [fromMs, toMs], all within ±boundMs of the timeline. Returns the reports (throws otherwise).
 */
export async function expectInSync(
  cluster: Cluster,
  members: MemberHandle[],
  timeline: Timeline,
  tracks: readonly Track[],
  fromMs: number,
  toMs: number,
  boundMs = 20,
  // A member reads audio-pts at 10 Hz but discards readings with a slow IPC round trip, which
  // on a loaded machine can be most of them: ask for a few per second, not all.
  minReadings = Math.max(2, Math.floor(((toMs - fromMs) / 1000) * 1.5)),
): Promise<SyncReport[]> {
  await sleepUntil(toMs + 150); // let the last readings reach the files
  const reports = members.map((m) => syncReport(m, timeline, tracks, fromMs, toMs));
  const bad = reports.filter((r) => r.count < minReadings || r.unmatched > 0 || r.maxAbsMs > boundMs);
  if (bad.length) {
    throw new Error(`members out of sync (bound ±${boundMs} ms, at least ${minReadings} readings over ${(toMs - fromMs).toFixed(0)} ms against timeline ${JSON.stringify(timeline)}):\n${formatReports(reports)}\n${cluster.recentLogs()}`);
  }
  return reports;
}

/** Newline-delimited JSON over a raw socket, for talking to (or posing as) a leader. */
export class JsonLines {
  readonly received: Record<string, unknown>[] = [];
  readonly rawLines: string[] = [];
  private buffer = '';
  private readonly listeners = new Set<() => void>();
  closed = false;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.rawLines.push(line);
        try {
          this.received.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.received.push({ type: '(unparseable)', line });
        }
      }
      for (const l of [...this.listeners]) l();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const l of [...this.listeners]) l();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<JsonLines> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host, port }, () => resolve(new JsonLines(s)));
      s.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.socket.write(JSON.stringify(message) + '\n');
  }

  write(raw: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(raw, (e) => (e ? reject(e) : resolve())));
  }

  /** The first message (at index ≥ from) matching `pred`, waiting up to timeoutMs. */
  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 5000, from = 0): Promise<Record<string, unknown>> {
    const find = (): Record<string, unknown> | undefined => this.received.slice(from).find(pred);
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching message within ${timeoutMs} ms; received since #${from}: ${JSON.stringify(this.received.slice(from).filter((m) => m.type !== 'heartbeat' && m.type !== 'time-res').slice(-8))}`));
      }, timeoutMs);
      const check = (): void => {
        const m = find();
        if (m) {
          done();
          resolve(m);
        } else if (this.closed) {
          done();
          reject(new Error(`connection closed before a matching message; received: ${JSON.stringify(this.received.slice(from).slice(-8))}`));
        }
      };
      this.listeners.add(check);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface ConvergeOptions {
  /** the instant from which readings count (default: the timeline's instant) */
  sinceMs?: number;
  /** convergence must happen within this long after sinceMs (default 8000: generous, for a loaded machine) */
  withinMs?: number;
  /** after converging, errors must stay within the bound this much longer (default 2000) */
  holdMs?: number;
  boundMs?: number;
  /** convergence = every member's readings over this long all within the bound (default 1000) */
  windowMs?: number;
}

/**
 * Waits until every member's true error has been within ±boundMs for a whole window (at most
 * `withinMs` after the instant), then requires it to stay there for `holdMs` more.
 * Returns how long convergence took and the reports of the hold period.
 */
export async function expectConverged(
  cluster: Cluster,
  members: MemberHandle[],
  timeline: Timeline,
  tracks: readonly Track[],
  o: ConvergeOptions = {},
): Promise<{ convergedAfterMs: number; convergedAt: number; reports: SyncReport[] }> {
  const since = o.sinceMs ?? timeline.at;
  const withinMs = o.withinMs ?? 8000;
  const windowMs = o.windowMs ?? 1000;
  const boundMs = o.boundMs ?? 20;
  const minReadings = Math.max(2, Math.floor((windowMs / 1000) * 1.5));
  const deadline = since + withinMs;
  let reports: SyncReport[] = [];
  let convergedAt: number;
  for (;;) {
    const now = nowMs() - 150; // readings younger than this may not be in the files yet
    const from = now - windowMs;
    if (from >= since) {
      reports = members.map((m) => syncReport(m, timeline, tracks, from, now));
      if (reports.every((r) => r.count >= minReadings && r.unmatched === 0 && r.maxAbsMs <= boundMs)) {
        convergedAt = from;
        break;
      }
    }
    if (from > deadline) {
      throw new Error(`members did not converge within ±${boundMs} ms within ${withinMs} ms of ${since.toFixed(0)} (timeline ${JSON.stringify(timeline)}); last ${windowMs} ms:\n${formatReports(reports)}\n${cluster.recentLogs()}`);
    }
    await sleep(200);
  }
  const hold = await expectInSync(cluster, members, timeline, tracks, convergedAt, convergedAt + windowMs + (o.holdMs ?? 2000), boundMs);
  return { convergedAfterMs: convergedAt - since, convergedAt, reports: hold };
}
