export { monotonicMs } from './monotonic.js';
export { OffsetEstimator } from './offset-estimator.js';
export type { ClockSample, OffsetEstimatorOptions } from './offset-estimator.js';
export { waitUntilLocal } from './precise-wait.js';
export type { WaitUntilLocalOptions } from './precise-wait.js';
