/**
 * How often the leader asks each member to exchange time, given how many peers it answers.
 *
 * A member's own schedule (member/time-exchange.ts) is a chain of 4 exchanges twice a second, 8
 * a second while its clock estimate is young (its first two minutes), and the exchanges of 12
 * chains a second, one by one, while its link is noisy. For a
 * household that is nothing; for 1,000 members it is 8,000 exchanges a second or more, each a
 * read, a tag check, a parse, a tag and a write, and it
 * set the leader's CPU (~6 % of a core per 1,000 exchanges/s). So the leader answers at most
 * `chainsPerSec` chains a second in total: above chainsPerSec × (the fastest member spacing)
 * peers, every time reply carries `paceMs`, the spacing it asks for between a member's chains. A
 * member never exchanges faster than its own schedule says, so a small party's replies carry no
 * pace and nothing changes for it.
 *
 * A slower pace costs a large party little clock quality: the estimator keeps the fastest
 * exchanges over a 300 s window (clock/offset-estimator.ts), and a chain every 2 s still gives it
 * 150 points; drift of a crystal moves the offset by well under a microsecond in 2 s.
 */
import { TIME_EXCHANGE } from '../member/time-exchange.js';

export interface ExchangePaceTunables {
  chainsPerSec: number;
  memberSpacingMs: number;
  stepMs: number;
  maxMs: number;
}

export const EXCHANGE_PACE: Readonly<ExchangePaceTunables> = Object.freeze({
  /** chains a second the leader answers in total, all members together (×4 exchanges each) */
  chainsPerSec: 500,
  /** the fastest a member chains on its own (12 Hz, on a noisy link): below it no pace is sent */
  memberSpacingMs: 1000 / Math.max(TIME_EXCHANGE.noisyHz, TIME_EXCHANGE.youngHz),
  /** paces move in steps this big, so members joining one by one do not change it each time */
  stepMs: 250,
  /**
   * The slowest pace asked for. A calibrator sends nothing but time requests, and the leader
   * closes a peer silent for 3.5 s (limits.ts): 2 s keeps every peer well inside that.
   */
  maxMs: 2000,
});

/** The spacing between a member's chains the leader asks for with `peers` connected, or null: none. */
export function exchangePaceMs(peers: number, pace: Readonly<ExchangePaceTunables> = EXCHANGE_PACE): number | null {
  const even = (peers / pace.chainsPerSec) * 1000;
  if (even <= pace.memberSpacingMs) return null;
  return Math.min(pace.maxMs, Math.ceil(even / pace.stepMs) * pace.stepMs);
}
