/**
 * Splits a byte stream into newline-terminated lines with a hard cap on line length.
 * An oversized line is reported once and then discarded up to its terminating newline,
 * so a peer cannot make us buffer without bound.
 */
export class LineFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private discarding = false;

  constructor(
    public maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOversized: (bytesSeen: number) => void,
  ) {}

  push(data: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) break;
      this.take(data.subarray(start, nl), true);
      start = nl + 1;
    }
    if (start < data.length) this.take(data.subarray(start), false);
  }

  private take(part: Buffer, complete: boolean): void {
    if (this.discarding) {
      if (complete) this.discarding = false;
      return;
    }
    if (this.buffered + part.length > this.maxLineBytes) {
      this.onOversized(this.buffered + part.length);
      this.chunks = [];
      this.buffered = 0;
      this.discarding = !complete;
      return;
    }
    if (!complete) {
      this.chunks.push(Buffer.from(part));
      this.buffered += part.length;
      return;
    }
    const line = this.chunks.length === 0 ? part.toString('utf8') : Buffer.concat([...this.chunks, part]).toString('utf8');
    this.chunks = [];
    this.buffered = 0;
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim().length > 0) this.onLine(trimmed);
  }
}
