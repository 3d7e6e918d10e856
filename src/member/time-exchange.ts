/**
 * How often a member exchanges time with its leader and reports its status. The scale benchmark's
 * simulated members follow the same schedule, so they load the leader as real members do.
 */
export const TIME_EXCHANGE = Object.freeze({
  /** exchanges right after joining, so a clock estimate exists within a second */
  burstCount: 20,
  /** spacing of the joining burst, ms (25 Hz) */
  burstIntervalMs: 40,
  /**
   * Each exchange is a chain of this many: the next request goes out the moment the previous
   * reply arrives. The first one finds the leader idle, and its wake-up (process and CPU) lands on
   * the request path only: on loopback its up delay floor was 0.45–0.7 ms against 0.2 ms down, an
   * offset bias of 0.13–0.25 ms. From the third on both ends are awake: floors ~0.03 ms each way,
   * equal within 3 µs. The estimator keeps a chain's fastest up and fastest down.
   */
  chainLength: 4,
  /** chains per second after the burst: enough to follow a crystal's drift */
  steadyHz: 2,
  /**
   * While the clock estimate's window spans less than youngSpanMs (after joining, after every
   * reconnect, after the leader's clock stepped), the member chains at youngHz. A young estimate
   * is as good as its fastest exchanges are close to the path's floor, and that improves with
   * their number: on clock traces of the sync bench's clean LAN (0.25 ms proxies each way, three
   * clients, true offset 0), the spread between the clients' estimates 10–75 s after connecting
   * was 0.031–0.052 ms p95 at 8 Hz against 0.058–0.097 at 2 Hz (4 traces each), 0.019–0.032
   * against 0.040–0.060 from 30 s on. Once the window is two minutes long, 2 Hz adds points fast
   * enough and costs the leader a quarter of the exchanges.
   */
  youngHz: 8,
  youngSpanMs: 120_000,
  /**
   * Chains per second after the burst on a noisy link, whose exchanges then go out one at a time,
   * evenly spread (noisyExchangeSpacingMs): 12 chains of 4 are an exchange every ~21 ms. There the
   * estimate is as good as its fastest exchanges are close to the path's floor, and that improves
   * with their number; waiting for each reply (a chain) caps them at one per round trip, and
   * keeping both ends awake, a chain's purpose, gains nothing when the replies take 10+ ms. The
   * leader's pace (leader/exchange-pace.ts) counts with this rate.
   */
  noisyHz: 12,
  /**
   * A link is noisy when its round trips spread (median − fastest, over the estimator's window)
   * more than this, ms: a LAN spreads ~0.1 ms, a loaded loopback < 1 ms, Wi-Fi several ms. It
   * counts as quiet again below half of it (the faster rate puts more exchanges in each point,
   * which narrows the spread a little: no flapping at the edge).
   */
  noisyRttSpreadMs: 2,
  /**
   * A leader with many members asks for a slower pace in its time replies (leader/exchange-pace.ts);
   * the member follows it up to this spacing between chains, ms, and never goes faster than steadyHz.
   */
  maxLeaderPaceMs: 2000,
  /** a status report to the leader this often, ms */
  statusIntervalMs: 1000,
});

/**
 * ms between chains after the burst: the member's own rate (`ownHz`), or the slower pace its
 * leader asked for (`leaderPaceMs`, 0: none), never slower than maxLeaderPaceMs.
 */
export function chainSpacingMs(leaderPaceMs: number, ownHz: number = TIME_EXCHANGE.steadyHz): number {
  return Math.max(1000 / ownHz, Math.min(leaderPaceMs, TIME_EXCHANGE.maxLeaderPaceMs));
}

/** Is the link noisy, given its round trips' spread and whether it was noisy so far? */
export function isNoisyLink(rttSpreadMs: number, wasNoisy: boolean): boolean {
  return rttSpreadMs > (wasNoisy ? TIME_EXCHANGE.noisyRttSpreadMs / 2 : TIME_EXCHANGE.noisyRttSpreadMs);
}

/**
 * ms between single exchanges on a noisy link: the chain spacing shared out over its CHAIN_LENGTH
 * exchanges, but never less than the round trips' spread (median − fastest, ≈ the one-way delay's
 * range when both ways jitter alike), and never more than a whole chain spacing.
 *
 * Why the spread: a path is a queue. A request sent less than the one-way jitter after the one
 * before it is often held behind it, and a held exchange's delay tells nothing about the floor.
 * With one-way delays spread over R and exchanges every s < R, about s/R of the fast draws get
 * through unheld, so fast exchanges per second stay ~1/R however small s is; s = R gets them all
 * with the fewest packets. Recorded through the bench's impairing proxy (3 clients per trace): on
 * the bad-network preset (R ≈ 80 ms) an exchange every 16 ms put the fastest up delays 6–9 ms
 * above their floor, against 0.3–0.9 ms at 31 ms. On the Wi-Fi preset (R ≈ 20), a client's
 * |offset error| p95 60–120 s after joining was 0.05–0.14 ms (median 0.071, 12 clients) against
 * 0.05–0.24 (median 0.153, 9) with chains of 8 a second, and 0.02–0.08 against 0.06–0.16 from
 * 120 to 240 s; in the first minute the two are alike (the skew fit over a short window rules).
 */
export function noisyExchangeSpacingMs(chainSpacing: number, rttSpreadMs: number): number {
  return Math.min(chainSpacing, Math.max(chainSpacing / TIME_EXCHANGE.chainLength, rttSpreadMs));
}
