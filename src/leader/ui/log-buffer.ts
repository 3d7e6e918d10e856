/**
 * Where the leader's log lines go while the terminal UI is open: the last lines are kept for the
 * UI's log pane instead of being written over it. Once detached (the UI closed), lines go to
 * stderr again.
 */
export class LogBuffer {
  private readonly kept: string[] = [];
  private snapshot: string[] = [];
  private changed = false;
  private attached = true;

  constructor(
    private readonly capacity = 200,
    private readonly fallback: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  ) {}

  /** A createLogger() sink. */
  readonly write = (line: string): void => {
    if (!this.attached) return this.fallback(line);
    for (const l of line.split('\n')) this.kept.push(l);
    if (this.kept.length > this.capacity) this.kept.splice(0, this.kept.length - this.capacity);
    this.changed = true;
  };

  /** The kept lines, oldest first; the same array until a line is added. */
  lines(): string[] {
    if (this.changed) {
      this.snapshot = [...this.kept];
      this.changed = false;
    }
    return this.snapshot;
  }

  /** From now on lines go to stderr (or the fallback). */
  detach(): void {
    this.attached = false;
  }
}
