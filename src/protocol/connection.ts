/**
 * One peer connection speaking newline-delimited JSON, validated against a schema.
 * Bad input (malformed JSON, oversized lines, unknown or invalid messages) is reported through
 * `onBadInput` and answered with an `error` message; it never throws and never closes the
 * connection by itself. A peer that keeps sending garbage is cut off after `maxBadLines`.
 */
import type { Socket } from 'node:net';
import type { z } from 'zod';
import { LineFramer } from './line-framer.js';
import { MAX_LINE_BYTES, parseLine } from './messages.js';

export interface ConnectionHandlers<In> {
  onMessage: (message: In) => void;
  onBadInput: (code: string, detail: string) => void;
  onClose: (hadError: boolean) => void;
}

export class JsonLineConnection<In, Out extends { type: string }> {
  private badLines = 0;
  private closed = false;

  constructor(
    readonly socket: Socket,
    schema: z.ZodType<In>,
    private readonly handlers: ConnectionHandlers<In>,
    private readonly maxBadLines = 100,
  ) {
    socket.setNoDelay(true);
    const framer = new LineFramer(
      MAX_LINE_BYTES,
      (line) => {
        const parsed = parseLine(schema, line);
        if (parsed.ok) handlers.onMessage(parsed.message);
        else this.bad(parsed.code, parsed.error);
      },
      (bytes) => this.bad('line-too-long', `line exceeds ${MAX_LINE_BYTES} bytes (${bytes}+ received); discarded`),
    );
    socket.on('data', (data: Buffer) => framer.push(data));
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

  send(message: Out): void {
    this.sendLine(JSON.stringify(message) + '\n');
  }

  /** Sends a message already serialised (with its newline): a broadcast serialises once. */
  sendLine(line: string): void {
    if (!this.isOpen) return;
    this.socket.write(line);
  }

  /** Sends a final message, then closes once it is flushed. */
  end(message?: Out): void {
    if (!this.isOpen) return;
    if (message) this.socket.end(JSON.stringify(message) + '\n');
    else this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
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
