/**
 * One peer connection speaking newline-delimited JSON, validated against a schema.
 * Bad input (malformed JSON, oversized lines, unknown or invalid messages) is reported through
 * `onBadInput` and answered with an `error` message; it never throws and never closes the
 * connection by itself. A peer that keeps sending garbage is cut off after `maxBadLines`.
 *
 * Bounds: lines longer than `maxLineBytes` are discarded unparsed; a peer that does not read what
 * we write is dropped once more than `maxWriteBufferBytes` wait for it on top of the largest
 * single line written (so one big playlist does not count as slowness).
 * Once `authenticate()` is called every line both ways carries a tag (line-auth.ts); a line whose
 * tag is wrong closes the connection: the stream can no longer be trusted.
 */
import type { Socket } from 'node:net';
import type { z } from 'zod';
import { LineFramer } from './line-framer.js';
import type { LineAuth } from './line-auth.js';
import { MAX_LINE_BYTES, parseLine } from './messages.js';

export interface ConnectionHandlers<In> {
  onMessage: (message: In) => void;
  onBadInput: (code: string, detail: string) => void;
  onClose: (hadError: boolean) => void;
}

export interface ConnectionOptions {
  maxBadLines?: number;
  maxLineBytes?: number;
  /** bytes allowed to wait for a slow reader beyond the largest line (default: unbounded) */
  maxWriteBufferBytes?: number;
}

export class JsonLineConnection<In, Out extends { type: string }> {
  private badLines = 0;
  private closed = false;
  private readonly framer: LineFramer;
  private readonly maxBadLines: number;
  private maxWriteBufferBytes: number;
  private largestLine = 0;
  private auth: LineAuth | null = null;
  private sealedReceived = false;
  private plainErrorsBeforeFirst = false;
  /** why we closed it, when we did (slow reader, failed tag, …) */
  dropReason: string | null = null;

  constructor(
    readonly socket: Socket,
    private readonly schema: z.ZodType<In>,
    private readonly handlers: ConnectionHandlers<In>,
    opts: ConnectionOptions | number = {},
  ) {
    const o = typeof opts === 'number' ? { maxBadLines: opts } : opts;
    this.maxBadLines = o.maxBadLines ?? 100;
    this.maxWriteBufferBytes = o.maxWriteBufferBytes ?? Infinity;
    socket.setNoDelay(true);
    const maxLine = o.maxLineBytes ?? MAX_LINE_BYTES;
    this.framer = new LineFramer(
      maxLine,
      (line) => this.line(line),
      (bytes) => this.bad('line-too-long', `line exceeds ${this.framer.maxLineBytes} bytes (${bytes}+ received); discarded`),
    );
    socket.on('data', (data: Buffer) => {
      if (!this.closed) this.framer.push(data);
    });
    socket.on('error', () => {
      /* reported through 'close' */
    });
    socket.on('close', (hadError) => {
      this.closed = true;
      handlers.onClose(hadError);
    });
  }

  get isOpen(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  get isAuthenticated(): boolean {
    return this.auth !== null;
  }

  /** Changes the longest line accepted from now on (e.g. larger once the peer has joined). */
  setMaxLineBytes(bytes: number): void {
    this.framer.maxLineBytes = bytes;
  }

  /**
   * From now on every line both ways is tagged. `plainErrorsBeforeFirst`: until the first tagged
   * line arrives, an untagged `error` is still delivered (a leader refusing a wrong secret cannot
   * tag its answer).
   */
  authenticate(auth: LineAuth, plainErrorsBeforeFirst = false): void {
    this.auth = auth;
    this.plainErrorsBeforeFirst = plainErrorsBeforeFirst;
  }

  send(message: Out): void {
    if (!this.isOpen) return;
    const json = JSON.stringify(message);
    this.write(this.auth ? `${this.auth.seal(json)}\n` : `${json}\n`);
  }

  /** Sends a message already serialised (with its newline): a broadcast serialises once. */
  sendLine(line: string): void {
    const out = this.sealLine(line);
    if (out !== null) this.write(out);
  }

  /**
   * The first half of sendLine: the line as it goes on the wire (tagged once authenticated, which
   * takes the next sequence number), or null if closed. broadcast.ts tags a batch of connections
   * before writing them; the result must be written with writeSealed before anything else is sent.
   */
  sealLine(line: string): string | null {
    if (!this.isOpen) return null;
    return this.auth ? `${this.auth.seal(line.slice(0, -1))}\n` : line;
  }

  /** The second half of sendLine: writes what sealLine returned. */
  writeSealed(out: string): void {
    if (this.isOpen) this.write(out);
  }

  private write(out: string): void {
    if (this.socket.writableLength > this.maxWriteBufferBytes + this.largestLine) {
      this.drop(`not reading: ${this.socket.writableLength} bytes waiting to be sent`);
      return;
    }
    if (out.length > this.largestLine) this.largestLine = out.length;
    this.socket.write(out);
  }

  /** Sends a final message, then closes once it is flushed. */
  end(message?: Out): void {
    if (!this.isOpen) return;
    if (message) {
      const json = JSON.stringify(message);
      this.socket.end((this.auth ? this.auth.seal(json) : json) + '\n');
    } else this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Closes at once, remembering why. */
  drop(reason: string): void {
    this.dropReason ??= reason;
    this.socket.destroy();
  }

  private line(raw: string): void {
    let line = raw;
    if (this.auth) {
      const opened = this.auth.open(raw);
      if (opened === null) {
        if (this.plainErrorsBeforeFirst && !this.sealedReceived) {
          const parsed = parseLine(this.schema, raw);
          if (parsed.ok && (parsed.message as { type?: string }).type === 'error') {
            this.handlers.onMessage(parsed.message);
            return;
          }
        }
        this.handlers.onBadInput('auth-failed', 'a line without a valid tag (injected, replayed or reordered); closing');
        this.drop('a line without a valid tag');
        return;
      }
      this.sealedReceived = true;
      line = opened;
    }
    const parsed = parseLine(this.schema, line);
    if (parsed.ok) this.handlers.onMessage(parsed.message);
    else this.bad(parsed.code, parsed.error);
  }

  private bad(code: string, detail: string): void {
    this.handlers.onBadInput(code, detail);
    this.badLines += 1;
    this.send({ type: 'error', code, message: detail } as unknown as Out);
    if (this.badLines > this.maxBadLines) {
      this.end({ type: 'error', code: 'too-many-errors', message: `closing after ${this.maxBadLines} bad lines` } as unknown as Out);
    }
  }
}
