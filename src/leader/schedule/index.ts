export { nextOccurrence, parseCron, parseTimeOfDay, type RecurringTime } from './cron.js';
export { startLeaderSchedule, type LeaderScheduleOptions } from './leader-schedule.js';
export {
  MAX_TIMEOUT_MS,
  PartyScheduler,
  validateScheduleOptions,
  type IssueResult,
  type NextEvents,
  type PartySchedulerOptions,
  type ScheduleFlags,
  type Timers,
  type ValidatedSchedule,
} from './party-scheduler.js';
export { formatDuration, formatWall, localParts, resolveTimeZone, systemTimeZone, zonedToUtc, type LocalParts } from './time-zone.js';
