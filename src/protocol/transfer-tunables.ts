/** Tunables of the transfer, each with why. */
export const TRANSFER = {
  /** A chunk is the unit of request, verification and retry: small enough that a bad one costs
   *  little and a higher-priority track can take over within a fraction of a second at the
   *  default rate; large enough that a 100 MB file has 100 hashes and the request round trips
   *  are a rounding error. */
  CHUNK_BYTES: 1024 * 1024,
  /** The leader's total send rate for all members together, bytes/s. 2 MiB/s (16 Mbit/s) fetches a
   *  30 MB FLAC track in 15 s, a 10 MB MP3 in 5 s — many times faster than either plays — while
   *  leaving ~85 % of a 100 Mbit/s Ethernet link and most of a Wi-Fi link to the time exchanges,
   *  whose queueing delay is what would bias the members' clock estimates. */
  SERVE_RATE: 2 * 1024 * 1024,
  /** A challenge that is not answered in this time is forgotten. */
  NONCE_TTL_MS: 30_000,
  /** Outstanding challenges / live sessions the leader keeps at most (oldest dropped first). */
  MAX_NONCES: 256,
  MAX_SESSIONS: 64,
  /** A session unused this long is forgotten; the member simply opens a new one. */
  SESSION_IDLE_MS: 10 * 60_000,
  /** The largest manifest a member accepts: 100,000 chunks = a 100 GiB file. */
  MAX_CHUNKS: 100_000,
  /** A request without an answer for this long is abandoned and retried. */
  REQUEST_TIMEOUT_MS: 30_000,
} as const;
