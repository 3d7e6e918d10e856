/**
 * Heartbeats spread over their interval. Every member still gets one every `intervalMs`, but the
 * members are dealt into slices and each tick (every intervalMs / slices) writes to one slice only.
 *
 * Why: a write to a member is a syscall, and on loopback it also runs the receiver's side of TCP,
 * 10–40 µs each on a busy 2-core machine. Heartbeats to 1,000 members at once kept the event loop
 * for 10–40 ms every second, and whatever arrived meanwhile — a command to fan out, time requests
 * whose replies every member's clock estimate is built from — waited behind them. One slice of a
 * tenth of the members holds it for a tenth of that.
 *
 * Each tick serialises its heartbeat once (the timeline as it is at that tick) and sends that line
 * to its slice; per-line tags are still per member (the connection seals each line).
 */
export interface HeartbeatTarget {
  sendLine(line: string): void;
}

export const HEARTBEAT_PACING = Object.freeze({
  /** slices of the members, one written per tick: 1,000 members → 100 writes at a time */
  slices: 10,
  /** no tick closer than this: a short test interval must not become a 1 ms timer */
  minTickMs: 10,
});

export class HeartbeatPacer<T extends HeartbeatTarget> {
  private readonly slotOf = new WeakMap<T, number>();
  private nextSlot = 0;
  private tick = 0;
  private timer: NodeJS.Timeout | null = null;
  readonly slices: number;
  readonly tickMs: number;

  constructor(
    intervalMs: number,
    private readonly targets: () => Iterable<T>,
    /** the heartbeat line (JSON and newline) as of now */
    private readonly line: () => string,
  ) {
    this.slices = Math.max(1, Math.min(HEARTBEAT_PACING.slices, Math.floor(intervalMs / HEARTBEAT_PACING.minTickMs)));
    this.tickMs = intervalMs / this.slices;
  }

  start(): void {
    this.timer ??= setInterval(() => this.beat(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends the heartbeat to this tick's slice. Targets are dealt into slices as first seen. */
  beat(): void {
    const slot = this.tick;
    this.tick = (this.tick + 1) % this.slices;
    let line: string | null = null;
    for (const t of this.targets()) {
      let s = this.slotOf.get(t);
      if (s === undefined) {
        s = this.nextSlot;
        this.nextSlot = (this.nextSlot + 1) % this.slices;
        this.slotOf.set(t, s);
      }
      if (s !== slot) continue;
      line ??= this.line();
      t.sendLine(line);
    }
  }
}
