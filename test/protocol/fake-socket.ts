/**
 * Two connected in-memory sockets: what one writes, the other reads (on the next tick), and
 * ending or destroying one closes the other, as a TCP connection does. Enough of net.Socket for
 * JsonLineConnection, LeaderLink and MemberSession, so their unit tests need no port and can run
 * under fake timers.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

export class FakeSocket extends Duplex {
  peer: FakeSocket | null = null;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => {
      if (peer && !peer.destroyed) peer.push(chunk);
    });
    done();
  }

  override _final(done: (e?: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => {
      if (peer && !peer.destroyed) peer.push(null);
    });
    done();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = null;
    if (peer && !peer.destroyed) process.nextTick(() => peer.destroy());
    done(err);
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** Typed as what the code under test expects. */
  get asSocket(): Socket {
    return this as unknown as Socket;
  }
}

/** [a, b]: a connected pair. */
export function socketPair(): [FakeSocket, FakeSocket] {
  const a = new FakeSocket();
  const b = new FakeSocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Splits what a socket receives into lines and hands each to `onLine`. */
export function readLines(socket: FakeSocket, onLine: (line: string) => void): void {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) onLine(line);
    }
  });
}
