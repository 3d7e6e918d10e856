/**
 * Writes every accepted sync reading as a JSON line to a file (`syncplay member --telemetry F`),
 * for the benchmark and for anyone checking how well a device holds sync.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { SyncReading } from './sync/player-sync.js';

/** One line of a telemetry file: the member's name and one sync reading. */
export type TelemetryLine = SyncReading & { member: string };

export class TelemetryWriter {
  private readonly out: WriteStream;

  constructor(file: string, private readonly name: string) {
    this.out = createWriteStream(file, { flags: 'a' });
    this.out.on('error', (e) => process.stderr.write(`telemetry: cannot write ${file}: ${e.message}\n`));
  }

  write(reading: SyncReading): void {
    const line: TelemetryLine = { member: this.name, ...reading };
    this.out.write(JSON.stringify(line) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}
