/**
 * The Player (src/member/player.ts) on mpv's JSON IPC: one MpvPlayer per running mpv, and
 * MpvPlayerHost turning a SupervisedMpv's ready/down into Player lifecycles.
 *
 * Positions are mpv's `audio-pts`: the position of the sample leaving the audio output now
 * (mpv subtracts the output's reported latency), which is what the listener hears.
 */
import { localMs } from '../../clock/time.js';
import type { Player, PlayerHost, TimedPosition } from '../player.js';
import type { MpvIpcClient } from './ipc-client.js';
import type { SupervisedMpv } from './supervised-mpv.js';

/** How long a load or seek may take before mpv restarts playback (a slow disk, a loaded CPU). */
const RESTART_TIMEOUT_MS = 10_000;

export class MpvPlayer implements Player {
  constructor(readonly client: MpvIpcClient) {}

  load(path: string, startSec?: number): Promise<void> {
    return this.untilRestart(['loadfile', path, 'replace', ...(startSec === undefined ? [] : [`start=${startSec.toFixed(6)}`])]);
  }

  /** An EDL entry (mpv's edit list): the silence's first `silenceSec`, then the whole file. */
  loadAfterSilence(path: string, silencePath: string, silenceSec: number): Promise<void> {
    return this.untilRestart(['loadfile', `edl://${edlPath(silencePath)},0,${silenceSec.toFixed(6)};${edlPath(path)}`, 'replace']);
  }

  seek(positionSec: number): Promise<void> {
    return this.untilRestart(['seek', positionSec, 'absolute+exact']);
  }

  async append(path: string): Promise<void> {
    await this.client.command(['loadfile', path, 'append']);
  }

  async remove(index: number): Promise<void> {
    await this.client.command(['playlist-remove', index]);
  }

  async playlistPosition(): Promise<number> {
    return (await this.client.getProperty<number | null>('playlist-pos')) ?? -1;
  }

  async stop(): Promise<void> {
    await this.client.command(['stop']);
  }

  setPaused(paused: boolean): Promise<void> {
    return this.client.setProperty('pause', paused);
  }

  setSpeed(speed: number): Promise<void> {
    return this.client.setProperty('speed', speed);
  }

  async setVolume(volume: number, muted: boolean): Promise<void> {
    await this.client.setProperty('volume', volume);
    await this.client.setProperty('mute', muted);
  }

  async readPosition(): Promise<TimedPosition> {
    const r = await this.client.timedGetProperty('audio-pts');
    return { positionSec: r.value, localMs: localMs(r.localMs), rttMs: r.rttMs };
  }

  async whenEnded(timeoutMs: number): Promise<void> {
    await this.client.waitForEvent('end-file', undefined, timeoutMs);
  }

  /** Sends `command` and resolves at mpv's next playback-restart (listened for before sending). */
  private async untilRestart(command: unknown[]): Promise<void> {
    const restart = this.client.waitForEvent('playback-restart', undefined, RESTART_TIMEOUT_MS);
    restart.catch(() => {});
    await this.client.command(command);
    await restart;
  }
}

/** A path in an EDL: `%length%` before it (its length in bytes) lets it hold any character, `;` and `,` too. */
function edlPath(path: string): string {
  return `%${Buffer.byteLength(path, 'utf8')}%${path}`;
}

/** A SupervisedMpv seen as a PlayerHost: every (re)started mpv becomes a fresh MpvPlayer. */
export class MpvPlayerHost implements PlayerHost {
  constructor(private readonly mpv: SupervisedMpv) {}

  onReady(listener: (player: Player) => void): void {
    this.mpv.on('ready', (client: MpvIpcClient) => listener(new MpvPlayer(client)));
  }

  onDown(listener: () => void): void {
    this.mpv.on('down', () => listener());
  }
}
