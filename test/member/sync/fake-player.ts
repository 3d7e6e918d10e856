/**
 * A Player that plays in (vitest's fake) time: the position advances at `speed` while unpaused,
 * an unpause takes effect `startLatencyMs` late (like a real output's restart latency), on an
 * output with blocks (`outputBlockMs`) from the next block edge after that, loads and
 * seeks take `armMs`, and at a file's end it moves on to the next entry by itself. kill() makes
 * it dead: every call rejects, as a crashed player's would.
 */
import { localMs } from '../../../src/clock/time.js';
import type { Player, PlayerHost, TimedPosition } from '../../../src/member/player.js';

export interface FakePlayerOptions {
  /** file length per path, s */
  durations: Map<string, number>;
  startLatencyMs?: number;
  /** an output that takes sound in blocks of this many ms on a fixed grid (edges at blockPhaseMs + k × block): an unpause is heard from the first edge at or after it takes effect */
  outputBlockMs?: number;
  blockPhaseMs?: number;
  armMs?: number;
  /** each reading's IPC round trip, ms (a function: per reading, e.g. slow while the host is busy) */
  rttMs?: number | ((player: FakePlayer) => number);
  /** each reading's timestamp is off by this, ms (a reading misstamped on a busy host) */
  readingSkewMs?: (player: FakePlayer) => number;
  /** the player's own clock rate error: 1e-4 plays 100 ppm fast */
  driftRatio?: number;
}

export interface PlayerCall {
  atMs: number;
  call: string;
  args: unknown[];
}

export class FakePlayer implements Player {
  playlist: string[] = [];
  entry = -1;
  paused = false;
  speed = 1;
  volume = 100;
  muted = false;
  dead = false;
  readonly calls: PlayerCall[] = [];
  /** position at `anchorMs`; from then on it advances while unpaused */
  private anchorPos = 0;
  private anchorMs = 0;
  private readonly endWaiters: (() => void)[] = [];
  /** entries loaded after silence: their file and the silence's length, s */
  private readonly joined = new Map<string, { path: string; silenceSec: number }>();

  constructor(private readonly o: FakePlayerOptions) {}

  private now(): number {
    return Date.now();
  }

  private record(call: string, ...args: unknown[]): void {
    if (this.dead) throw new Error('player is dead');
    this.calls.push({ atMs: this.now(), call, args });
  }

  /** The position now, s (moving on to the next entry past a file's end). */
  position(): number {
    this.advanceEntries();
    return this.rawPosition();
  }

  private rawPosition(): number {
    if (this.entry < 0) return 0;
    if (this.paused) return this.anchorPos;
    const t = this.now();
    if (t < this.anchorMs) return this.anchorPos;
    return this.anchorPos + ((t - this.anchorMs) / 1000) * this.speed * (1 + (this.o.driftRatio ?? 0));
  }

  private advanceEntries(): void {
    while (this.entry >= 0) {
      const len = this.lengthOf(this.playlist[this.entry]!);
      const pos = this.rawPosition();
      if (pos < len) return;
      // The file ended at the instant its position reached its length.
      const rate = this.speed * (1 + (this.o.driftRatio ?? 0));
      const endedAt = this.anchorMs + ((len - this.anchorPos) / rate) * 1000;
      for (const w of this.endWaiters.splice(0)) w();
      if (this.entry + 1 < this.playlist.length) {
        this.entry += 1;
        this.anchorPos = 0;
        this.anchorMs = endedAt;
      } else {
        this.entry = -1;
        this.playlist = [];
      }
    }
  }

  private lengthOf(entry: string): number {
    const j = this.joined.get(entry);
    return j ? j.silenceSec + (this.o.durations.get(j.path) ?? Infinity) : (this.o.durations.get(entry) ?? Infinity);
  }

  /** Re-anchors at the current position so a speed or pause change applies from now on. */
  private reanchor(): void {
    this.advanceEntries();
    this.anchorPos = this.rawPosition();
    this.anchorMs = Math.max(this.anchorMs, this.now());
  }

  private delay(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  private async afterArm(): Promise<void> {
    await this.delay(this.o.armMs ?? 20);
    if (this.dead) throw new Error('player is dead');
  }

  async load(path: string, startSec?: number): Promise<void> {
    this.record('load', path, startSec);
    this.playlist = [path];
    this.entry = 0;
    this.anchorPos = startSec ?? 0;
    this.anchorMs = this.now();
    await this.afterArm();
    this.anchorMs = this.now();
  }

  async loadAfterSilence(path: string, silencePath: string, silenceSec: number): Promise<void> {
    this.record('loadAfterSilence', path, silencePath, silenceSec);
    const entry = `${silenceSec} s of silence, then ${path}`;
    this.joined.set(entry, { path, silenceSec });
    this.playlist = [entry];
    this.entry = 0;
    this.anchorPos = 0;
    this.anchorMs = this.now();
    await this.afterArm();
    this.anchorMs = this.now();
  }

  async seek(positionSec: number): Promise<void> {
    this.record('seek', positionSec);
    this.anchorPos = positionSec;
    this.anchorMs = this.now();
    await this.afterArm();
    this.anchorMs = this.now();
  }

  async append(path: string): Promise<void> {
    this.record('append', path);
    this.playlist.push(path);
  }

  async remove(index: number): Promise<void> {
    this.record('remove', index);
    this.advanceEntries();
    this.playlist.splice(index, 1);
    if (index < this.entry) this.entry -= 1;
  }

  async playlistPosition(): Promise<number> {
    this.record('playlistPosition');
    this.advanceEntries();
    return this.entry;
  }

  async stop(): Promise<void> {
    this.record('stop');
    this.playlist = [];
    this.entry = -1;
  }

  async setPaused(paused: boolean): Promise<void> {
    this.record('setPaused', paused);
    if (paused === this.paused) return;
    this.reanchor();
    this.paused = paused;
    if (!paused) {
      const effective = this.now() + (this.o.startLatencyMs ?? 0);
      const block = this.o.outputBlockMs;
      const phase = this.o.blockPhaseMs ?? 0;
      this.anchorMs = block ? phase + Math.ceil((effective - phase) / block) * block : effective;
    }
  }

  async setSpeed(speed: number): Promise<void> {
    this.record('setSpeed', speed);
    this.reanchor();
    this.speed = speed;
  }

  async setVolume(volume: number, muted: boolean): Promise<void> {
    this.record('setVolume', volume, muted);
    this.volume = volume;
    this.muted = muted;
  }

  async readPosition(): Promise<TimedPosition> {
    if (this.dead) throw new Error('player is dead');
    this.advanceEntries();
    if (this.entry < 0 || this.now() < this.anchorMs) throw new Error('no position');
    const rtt = this.o.rttMs;
    return { positionSec: this.rawPosition(), localMs: localMs(this.now() + (this.o.readingSkewMs?.(this) ?? 0)), rttMs: typeof rtt === 'function' ? rtt(this) : (rtt ?? 0.3) };
  }

  whenEnded(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      const poll = setInterval(() => this.advanceEntries(), 10);
      this.endWaiters.push(() => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      });
    });
  }

  /** The file playing now (after its silence, for an entry loaded after silence), or null. */
  playing(): string | null {
    this.advanceEntries();
    if (this.entry < 0) return null;
    const e = this.playlist[this.entry]!;
    return this.joined.get(e)?.path ?? e;
  }
}

/** Hands out FakePlayers like a supervisor: ready after start and after each restart. */
export class FakePlayerHost implements PlayerHost {
  private readyListeners: ((p: FakePlayer) => void)[] = [];
  private downListeners: (() => void)[] = [];
  current: FakePlayer | null = null;
  readonly all: FakePlayer[] = [];

  constructor(private readonly make: () => FakePlayer) {}

  onReady(listener: (player: FakePlayer) => void): void {
    this.readyListeners.push(listener);
  }

  onDown(listener: () => void): void {
    this.downListeners.push(listener);
  }

  start(): FakePlayer {
    const p = this.make();
    this.current = p;
    this.all.push(p);
    for (const l of this.readyListeners) l(p);
    return p;
  }

  /** The player dies (every call on it fails from now on); call start() to restart it. */
  kill(): void {
    if (this.current) this.current.dead = true;
    this.current = null;
    for (const l of this.downListeners) l();
  }
}
