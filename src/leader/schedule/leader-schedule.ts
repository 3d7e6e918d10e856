/** Binds a PartyScheduler to a running Leader: its clock, its commands and its status. */
import type { WallMs } from '../../clock/time.js';
import type { Logger } from '../../log/logger.js';
import { playheadAt } from '../../protocol/index.js';
import type { Leader } from '../leader.js';
import { PartyScheduler, type ValidatedSchedule } from './party-scheduler.js';

export interface LeaderScheduleOptions {
  /** UTC wall clock (default Date.now) */
  wallNow?: (() => WallMs) | undefined;
  /** how far ahead of the wall-clock instant commands are issued (default 5000 ms) */
  leadMs?: number | undefined;
}

/** Creates and starts the scheduler; status() of the leader then shows its next start and stop. */
export function startLeaderSchedule(leader: Leader, schedule: ValidatedSchedule, log: Logger, o: LeaderScheduleOptions = {}): PartyScheduler {
  const scheduler = new PartyScheduler({
    validated: schedule,
    ...(o.wallNow ? { wallNow: o.wallNow } : {}),
    ...(o.leadMs !== undefined ? { leadMs: o.leadMs } : {}),
    sharedNow: leader.now,
    issue: (command, at) => leader.command(command, at),
    isPlaying: (at) => {
      const state = playheadAt(leader.currentTimeline(), leader.tracks, at).state;
      return state === 'playing' || state === 'pending';
    },
    log,
  });
  leader.setScheduleInfo(() => scheduler.next());
  scheduler.start();
  return scheduler;
}
