/**
 * A TCP proxy on loopback that records every byte in both directions, per connection: what a
 * LAN eavesdropper would capture between a member and its leader.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface RecordedConnection {
  /** member → leader bytes */
  up: Buffer[];
  /** leader → member bytes */
  down: Buffer[];
}

export class RecordingProxy {
  readonly connections: RecordedConnection[] = [];
  port = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const rec: RecordedConnection = { up: [], down: [] };
      this.connections.push(rec);
      const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.on('data', (d: Buffer) => {
        rec.up.push(Buffer.from(d));
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        rec.down.push(Buffer.from(d));
        client.write(d);
      });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  /** Everything captured, both directions, as one buffer. */
  all(): Buffer {
    return Buffer.concat(this.connections.flatMap((c) => [...c.up, ...c.down]));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
