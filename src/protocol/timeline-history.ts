/**
 * The timelines a member knows: the one in force and any announced for future instants.
 * A command arrives before its instant, so until then the previous timeline still governs:
 * `effective(t)` is the newest timeline whose instant has come by t; `upcoming(t)` the next one.
 */
import type { Timeline } from './messages.js';

export class TimelineHistory {
  private timelines: Timeline[] = [];

  /** Adds a timeline (repeats and older sequence numbers are ignored). Returns true if it is new. */
  add(timeline: Timeline): boolean {
    const newest = this.timelines[this.timelines.length - 1];
    if (newest && timeline.seq <= newest.seq) {
      if (timeline.seq === newest.seq) return false;
      // A lower sequence number means the leader restarted: start over from what it says.
      if (timeline.seq < newest.seq && timeline.seq < this.timelines[0]!.seq) this.timelines = [];
      else return false;
    }
    // A newer command replaces any announced timeline that has not taken effect yet
    // and would take effect after it.
    this.timelines = this.timelines.filter((t) => t.at < timeline.at);
    this.timelines.push(timeline);
    return true;
  }

  clear(): void {
    this.timelines = [];
  }

  effective(sharedMs: number): Timeline | null {
    let found: Timeline | null = null;
    for (const t of this.timelines) if (t.at <= sharedMs) found = t;
    return found;
  }

  upcoming(sharedMs: number): Timeline | null {
    return this.timelines.find((t) => t.at > sharedMs) ?? null;
  }

  latest(): Timeline | null {
    return this.timelines[this.timelines.length - 1] ?? null;
  }

  /** Forgets timelines superseded before `sharedMs`. */
  prune(sharedMs: number): void {
    const current = this.effective(sharedMs);
    if (current) this.timelines = this.timelines.filter((t) => t.seq >= current.seq);
  }
}
