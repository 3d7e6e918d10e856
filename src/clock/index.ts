export { monotonicMs } from './monotonic.js';
export { OffsetEstimator } from './offset-estimator.js';
export type { ClockSample, OffsetEstimatorOptions } from './offset-estimator.js';
export { waitUntilLocal } from './precise-wait.js';
export type { WaitUntilLocalOptions } from './precise-wait.js';
export type { ClockMapping } from './clock-mapping.js';
export { NtpClock, parseNtpServer } from './ntp-clock.js';
export type { NtpClockOptions } from './ntp-clock.js';
