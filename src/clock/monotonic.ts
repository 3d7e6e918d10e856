/**
 * The process's monotonic clock in milliseconds (float, ns resolution).
 *
 * Built on process.hrtime.bigint(), which never jumps (unlike Date.now(), which NTP can step).
 * The leader's monotonicMs() is the shared clock; members map their own monotonicMs() onto it
 * through an OffsetEstimator.
 */
import type { LocalMs } from './time.js';

export function monotonicMs(): LocalMs {
  const ns = process.hrtime.bigint();
  // Split before converting so the result stays exact even when ns exceeds 2^53 (~104 days uptime).
  return (Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6) as LocalMs;
}
