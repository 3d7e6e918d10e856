/** The web remote's tunables, each with why it has its value. */
export const WEB_LIMITS = {
  /** Default port of the web remote: the leader's port (7655) + 1, easy to remember. */
  defaultPort: 7656,
  /** Largest request body accepted: a JSON-RPC call is a few hundred bytes. */
  maxBodyBytes: 16 * 1024,
  /** Requests per client address: a burst of this many… */
  rateBurst: 40,
  /** …refilled at this many per second (a volume slider dragged sends about 10 a second). */
  ratePerSec: 20,
  /** Client addresses tracked by the rate limiter at once; the oldest are forgotten first. */
  rateClients: 1024,
  /** Open event streams at once: each costs one snapshot per change. */
  maxEventStreams: 32,
  /** How often the leader's state is compared with the last one sent: bounds event latency. */
  eventTickMs: 100,
  /**
   * Above this many members the member rows are compared only every `memberRowsMs`: with 1,000
   * members a snapshot is ~280 KB and 5–13 ms to build, and every member's sync error moves each
   * second, so comparing every tick sent one ~10 times a second per open page.
   */
  smallPartyMembers: 32,
  /** How often a large party's member rows are compared (the timeline and who is connected still every tick). */
  memberRowsMs: 1000,
  /** A snapshot goes out at least this often even without a change (the positions move on). */
  eventRefreshMs: 2000,
  /** A comment line on an idle stream keeps proxies and phones from closing it. */
  keepAliveMs: 15_000,
  /** Lifetime of the token cookie set by the link: a party or two. */
  cookieMaxAgeSec: 30 * 24 * 3600,
} as const;
