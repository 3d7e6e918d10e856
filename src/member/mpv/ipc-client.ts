/**
 * Typed client for mpv's JSON IPC protocol.
 *
 * Protocol: one JSON object per `\n`-terminated line in both directions. Commands carry an
 * integer `request_id`; mpv echoes it in the reply (`{"request_id", "error", "data"}`). Events
 * (`{"event": ...}`) interleave with replies at any time.
 *
 * The client works over any Duplex (a net.Socket from `--input-ipc-server`, or the child's fd 3
 * socketpair used with `--input-ipc-client=fd://3`).
 *
 * Events emitted:
 * - `('property-change', name, data, id)` for every observed property change;
 * - `('event', obj)` for every mpv event (property changes included);
 * - `(obj.event, obj)` for every other mpv event, by its name: `'file-loaded'`, `'playback-restart'`,
 *   `'end-file'`, `'idle'`, `'seek'`, `'start-file'`, `'shutdown'`, ... (names that would clash with
 *   this class's own events are only delivered through `'event'`);
 * - `('close', reason)` once, when the connection ends.
 *
 * Listener exceptions and malformed lines are logged, never thrown out of the data handler.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/** Monotonic milliseconds (process.hrtime based); same timebase as src/clock/monotonic.ts. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
const DEFAULT_WAIT_EVENT_TIMEOUT_MS = 10_000;
/** Refuse to buffer more than this without seeing a newline (protects against a runaway peer). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/**
 * Where within a request's round trip (0: sent, 1: reply arrived) mpv reads the value it answers
 * with. Most of a round trip is spent before mpv reads it (its IPC thread hands the request to the
 * core, which may be asleep); the reply then comes straight back. Measured with recordings
 * (bench/reading-vs-sound.ts on a headline set, 30 member pairs): how far two members' sound and
 * their readings disagreed grew with the difference of their readings' round trips, by 0.28–0.50
 * of it (median 0.41), correlation 0.64–0.95, when readings were stamped at the midpoint (0.5).
 * So the value belongs at ~0.9 of the round trip, and a midpoint stamp made a reading look ahead by
 * 0.4 × its round trip: 0.1–0.3 ms that wandered with the machine's load, and which the sound
 * controller faithfully played.
 */
export const READING_INSTANT_FRACTION = 0.9;

/** Event names never re-emitted by name because this class uses them itself. */
const RESERVED_EVENT_NAMES = new Set(['close', 'error', 'event', 'property-change', 'newListener', 'removeListener']);

export interface MpvIpcClientOptions {
  /** Default timeout for each command, ms (default 5000). */
  timeoutMs?: number;
  /** Diagnostics sink (garbage lines, listener exceptions, late replies). */
  log?: (msg: string) => void;
}

export interface CommandOptions {
  /** Overrides the client's default timeout for this command, ms. */
  timeoutMs?: number;
}

/** An mpv event object as received (`event` is its name). */
export interface MpvEvent {
  event: string;
  [key: string]: unknown;
}

export interface TimedReading {
  /** The property's value. */
  value: number;
  /** Local monotonic ms the value belongs to: READING_INSTANT_FRACTION of the way through the round trip. */
  localMs: number;
  /** Round trip of the request, ms (the reading's timestamp is uncertain by up to this). */
  rttMs: number;
}

/** A command that mpv answered with an error, or that could not be answered. */
export class MpvCommandError extends Error {
  /** mpv's error string (e.g. `"invalid parameter"`, `"property unavailable"`), or a local reason. */
  readonly mpvError: string;
  readonly command: readonly unknown[];
  constructor(mpvError: string, command: readonly unknown[], detail?: string) {
    super(`mpv command ${safeJson(command)} failed: ${detail ?? mpvError}`);
    this.name = 'MpvCommandError';
    this.mpvError = mpvError;
    this.command = command;
  }
}

interface Pending {
  id: number;
  command: readonly unknown[];
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  sentMs: number;
  onReply?: (replyMs: number) => void;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export class MpvIpcClient extends EventEmitter {
  private readonly stream: Duplex;
  private readonly timeoutMs: number;
  private readonly log: (msg: string) => void;
  /**
   * Requests awaiting their reply: a few at a time, answered in order. An array searched from the
   * front, not a Map: a Map emptied by every reply reallocates its table each time, ~30 times a
   * second here, and those tables outlive young collections (the Map itself is old).
   */
  private readonly pending: Pending[] = [];
  private nextRequestId = 1;
  private nextObserveId = 1;
  private readonly observed = new Map<number, string>();
  private buffer = '';
  /** Monotonic ms at which the data chunk being parsed arrived. */
  private chunkArrivalMs = 0;
  private closedReason: string | null = null;

  constructor(stream: Duplex, options: MpvIpcClientOptions = {}) {
    super();
    this.stream = stream;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.log = options.log ?? (() => {});
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.onData(chunk));
    stream.on('end', () => this.shutdown('mpv closed the IPC connection'));
    stream.on('close', () => this.shutdown('IPC connection closed'));
    stream.on('error', (err: Error) => this.shutdown(`IPC connection error: ${err.message}`));
  }

  /** True once the connection has ended; every later command rejects at once. */
  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Number of requests awaiting a reply. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Sends a command; resolves with the reply's `data`, rejects with MpvCommandError. */
  command(args: unknown[], options: CommandOptions = {}): Promise<unknown> {
    return this.send(args, options);
  }

  async getProperty<T = unknown>(name: string, options?: CommandOptions): Promise<T> {
    return (await this.send(['get_property', name], options ?? {})) as T;
  }

  async setProperty(name: string, value: unknown, options?: CommandOptions): Promise<void> {
    await this.send(['set_property', name, value], options ?? {});
  }

  /**
   * Observes a property; changes arrive as `('property-change', name, data, id)` (mpv also sends
   * the current value right away). Resolves with the observer id for unobserveProperty().
   */
  async observeProperty(name: string): Promise<number> {
    const id = this.nextObserveId++;
    this.observed.set(id, name);
    try {
      await this.send(['observe_property', id, name], {});
    } catch (err) {
      this.observed.delete(id);
      throw err;
    }
    return id;
  }

  async unobserveProperty(id: number): Promise<void> {
    await this.send(['unobserve_property', id], {});
    this.observed.delete(id);
  }

  /**
   * Reads a numeric property and stamps it with the local monotonic time at which mpv read it:
   * READING_INSTANT_FRACTION of the way from the send to the arrival of the data chunk holding the
   * reply.
   */
  timedGetProperty(name: string, options: CommandOptions = {}): Promise<TimedReading> {
    let sentMs = 0;
    let replyMs = 0;
    const command = ['get_property', name];
    return this.send(command, options, (s) => (sentMs = s), (r) => (replyMs = r)).then((value) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new MpvCommandError('not a number', command, `property ${name} is not a number (got ${safeJson(value)})`);
      }
      return { value, localMs: sentMs + READING_INSTANT_FRACTION * (replyMs - sentMs), rttMs: replyMs - sentMs };
    });
  }

  /**
   * Resolves with the next event named `name` (a property change counts as `'property-change'`)
   * that satisfies `predicate`. Arm it BEFORE sending the command that triggers the event.
   * Rejects on timeout or when the connection closes.
   */
  waitForEvent(
    name: string,
    predicate?: (event: MpvEvent) => boolean,
    timeoutMs: number = DEFAULT_WAIT_EVENT_TIMEOUT_MS,
  ): Promise<MpvEvent> {
    return new Promise<MpvEvent>((resolve, reject) => {
      if (this.closedReason !== null) {
        reject(new Error(`cannot wait for mpv event '${name}': ${this.closedReason}`));
        return;
      }
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (event: MpvEvent): void => {
        if (event.event !== name) return;
        let ok = true;
        if (predicate) {
          try {
            ok = predicate(event);
          } catch (err) {
            cleanup();
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
        }
        if (!ok) return;
        cleanup();
        resolve(event);
      };
      const onClose = (reason: string): void => {
        cleanup();
        reject(new Error(`mpv event '${name}' never came: ${reason}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for mpv event '${name}'`));
      }, timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Closes the connection (with `--input-ipc-client` this makes mpv quit). */
  close(): void {
    this.shutdown('closed by client');
    this.stream.destroy();
  }

  // ---------------------------------------------------------------------------------------------

  private send(
    args: readonly unknown[],
    options: CommandOptions,
    onSent?: (sentMs: number) => void,
    onReply?: (replyMs: number) => void,
  ): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.closedReason !== null) {
        reject(new MpvCommandError('connection closed', args, this.closedReason));
        return;
      }
      const id = this.nextRequestId;
      this.nextRequestId = id >= 0x7fffffff ? 1 : id + 1;
      let line: string;
      try {
        line = JSON.stringify({ command: args, request_id: id }) + '\n';
      } catch (err) {
        reject(new MpvCommandError('invalid command', args, `cannot serialise: ${(err as Error).message}`));
        return;
      }
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      const timer = setTimeout(() => {
        if (this.takePending(id)) {
          reject(new MpvCommandError('timeout', args, `no reply within ${timeoutMs} ms`));
        }
      }, timeoutMs);
      const sentMs = monotonicMs();
      this.pending.push({ id, command: args, resolve, reject, timer, sentMs, onReply });
      onSent?.(sentMs);
      this.stream.write(line);
    });
  }

  private onData(chunk: string): void {
    this.chunkArrivalMs = monotonicMs();
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.handleLine(line);
    }
    if (this.buffer.length > MAX_LINE_BYTES) {
      this.log(`mpv ipc: dropping ${this.buffer.length} bytes without a newline`);
      this.buffer = '';
    }
  }

  private handleLine(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.log(`mpv ipc: ignoring non-JSON line: ${line.slice(0, 200)}`);
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.log(`mpv ipc: ignoring non-object message: ${line.slice(0, 200)}`);
      return;
    }
    const obj = msg as Record<string, unknown>;
    if (typeof obj.event === 'string') {
      this.dispatchEvent(obj as MpvEvent);
    } else if ('request_id' in obj || 'error' in obj) {
      this.handleReply(obj);
    } else {
      this.log(`mpv ipc: ignoring unrecognised message: ${line.slice(0, 200)}`);
    }
  }

  /** Removes and returns the request with this id (undefined if none is waiting). */
  private takePending(id: number): Pending | undefined {
    let i = 0;
    while (i < this.pending.length && this.pending[i]!.id !== id) i++;
    if (i === this.pending.length) return undefined;
    const p = this.pending[i]!;
    // In place: splice would allocate the array of removed elements.
    for (let j = i + 1; j < this.pending.length; j++) this.pending[j - 1] = this.pending[j]!;
    this.pending.length -= 1;
    return p;
  }

  private handleReply(obj: Record<string, unknown>): void {
    const id = obj.request_id;
    if (typeof id !== 'number') {
      // mpv answers unparseable input with a reply lacking request_id; nothing to match it to.
      this.log(`mpv ipc: reply without request_id: ${safeJson(obj)}`);
      return;
    }
    const p = this.takePending(id);
    if (!p) {
      this.log(`mpv ipc: reply for unknown or timed-out request ${id}`);
      return;
    }
    clearTimeout(p.timer);
    p.onReply?.(this.chunkArrivalMs);
    const error = obj.error;
    if (error === 'success') p.resolve(obj.data);
    else p.reject(new MpvCommandError(typeof error === 'string' ? error : safeJson(error), p.command));
  }

  private dispatchEvent(event: MpvEvent): void {
    if (event.event === 'property-change') {
      const name = typeof event.name === 'string' ? event.name : this.observed.get(event.id as number);
      this.safeEmit('property-change', name, event.data, event.id);
    } else if (!RESERVED_EVENT_NAMES.has(event.event)) {
      this.safeEmit(event.event, event);
    }
    this.safeEmit('event', event);
  }

  private safeEmit(name: string, ...args: unknown[]): void {
    try {
      this.emit(name, ...args);
    } catch (err) {
      this.log(`mpv ipc: listener for '${name}' threw: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private shutdown(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new MpvCommandError('connection closed', p.command, reason));
    }
    this.safeEmit('close', reason);
  }
}
