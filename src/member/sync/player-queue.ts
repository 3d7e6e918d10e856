/**
 * The player's playlist as the sync sees it: which track each entry is. Entry 0 plays, entry 1
 * is the track that follows (as the timeline's repeat mode says), queued so the player moves on
 * to it without a gap. The sync keeps this mirror in step with every command it sends.
 */
import type { Logger } from '../../log/logger.js';
import type { Player } from '../player.js';

/** The track that follows `loaded` and its file, or null when none (or its file is not playable). */
export type NextFile = (loaded: number) => { trackIndex: number; path: string } | null;

export class PlayerQueue {
  /** track indices of the player's playlist entries */
  private entries: number[] = [];
  /** entry 0's position in the player's terms minus the track's (the silence before it, when loaded after silence), s */
  private silenceSec = 0;
  /** the file queued as entry 1 */
  private queuedPath: string | null = null;

  constructor(
    private readonly nextFile: NextFile,
    private readonly log: Logger,
  ) {}

  /** The track of the entry playing, or null when nothing is loaded. */
  loaded(): number | null {
    return this.entries[0] ?? null;
  }

  /** What to subtract from a position the player reads to get the loaded track's, s. */
  silenceBeforeSec(): number {
    return this.silenceSec;
  }

  /** Whether anything is loaded or queued. */
  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** The player's playlist is empty now (stopped, restarted, or playing something else). */
  clear(): void {
    this.entries = [];
  }

  /** Loads (or seeks within) `trackIndex` at exactly `positionSec`, until the player has restarted there. */
  async loadAt(player: Player, trackIndex: number, path: string, positionSec: number): Promise<void> {
    if (this.loaded() === trackIndex) {
      await player.seek(positionSec + this.silenceSec);
    } else {
      await player.load(path, positionSec);
      this.entries = [trackIndex];
      this.silenceSec = 0;
    }
  }

  /** Loads `trackIndex` from its start after `silenceSec` of silence (Player.loadAfterSilence), until the player has restarted there. */
  async loadAfterSilence(player: Player, trackIndex: number, path: string, silencePath: string, silenceSec: number): Promise<void> {
    await player.loadAfterSilence(path, silencePath, silenceSec);
    this.entries = [trackIndex];
    this.silenceSec = silenceSec;
  }

  /**
   * Queues the track that follows the loaded one, replacing whatever was queued — unless that
   * very file is queued already (this runs whenever files' statuses change: a member checking
   * thousands of files in the background must not send the player two commands for each).
   */
  async queueNext(player: Player): Promise<void> {
    const loaded = this.loaded();
    const next = loaded === null ? null : this.nextFile(loaded);
    if (next && this.entries.length === 2 && this.entries[1] === next.trackIndex && this.queuedPath === next.path) return;
    if (!next && this.entries.length === 1) return;
    while (this.entries.length > 1) {
      await player.remove(this.entries.length - 1);
      this.entries.pop();
    }
    this.queuedPath = null;
    if (loaded === null) return;
    if (next) {
      await player.append(next.path);
      this.entries.push(next.trackIndex);
      this.queuedPath = next.path;
    }
  }

  /** Follows the player when it moved on to the queued track by itself, and queues the one after. */
  async followAdvance(player: Player): Promise<void> {
    const pos = await player.playlistPosition();
    if (pos > 0 && this.entries.length > 1) {
      await player.remove(0);
      this.entries.shift();
      this.silenceSec = 0;
      this.log.debug(`playing track ${(this.loaded() ?? 0) + 1}`);
      await this.queueNext(player);
    } else if (pos < 0) {
      this.entries = [];
    }
  }
}
