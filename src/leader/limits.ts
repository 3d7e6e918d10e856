/**
 * The leader's bounds: what one peer, or many, may cost it. Every tunable is here with the reason
 * for its value. With these, the leader's memory is bounded by roughly
 *   maxConnections × (maxWriteBufferBytes + the largest single message + MAX_LINE_BYTES)
 * plus the members' last status reports; the defaults and the measured figures are in the README.
 */
export interface LeaderLimits {
  /** open TCP connections of any kind; more are closed at once */
  maxConnections: number;
  /** connections that have not finished the handshake; more are told "busy" and closed */
  maxPendingHandshakes: number;
  /** of those, from one address: one host flooding cannot keep everyone else from joining */
  maxPendingPerAddress: number;
  /** joined members (not counting calibrators); more are refused with a reason */
  maxMembers: number;
  /** a connection must send a valid hello within this */
  handshakeTimeoutMs: number;
  /** a joined peer silent (no valid message) this long is marked lost and closed */
  silentAfterMs: number;
  /** bytes waiting to be written to one peer, on top of the largest single message; a reader that slow is dropped */
  maxWriteBufferBytes: number;
  /** a line before the handshake is a hello: anything longer is not one */
  preJoinMaxLineBytes: number;
  /** time requests answered per second per peer, sustained / burst */
  timeRequestsPerSec: number;
  timeRequestBurst: number;
  /** other messages handled per second per peer, sustained / burst */
  messagesPerSec: number;
  messageBurst: number;
}

export const DEFAULT_LIMITS: LeaderLimits = {
  // A household has a handful of speakers; a thousand-speaker fan-out runs with raised caps.
  maxConnections: 256,
  maxPendingHandshakes: 64,
  maxPendingPerAddress: 8,
  maxMembers: 128,
  // A hello is one line sent the moment server-hello arrives; 5 s allows a congested Wi-Fi.
  handshakeTimeoutMs: 5000,
  // Members send a status every 1 s and time requests at 2–48 Hz: 3.5 s of silence is three missed
  // reports, the member itself gives up on a leader silent for 5 s.
  silentAfterMs: 3500,
  // Heartbeats are ~300 B/s per member: 1 MiB is minutes of backlog, far past any live reader.
  maxWriteBufferBytes: 1024 * 1024,
  preJoinMaxLineBytes: 16 * 1024,
  // An honest member's start-up burst is 20 chains of 4 in 0.8 s (100/s), then 2 chains/s (8/s),
  // 8 chains/s while its estimate is young (< 32/s: each request waits for the previous reply), and
  // on a noisy link single requests at most every 1000 / 12 / 4 ms (48/s).
  timeRequestsPerSec: 64,
  timeRequestBurst: 160,
  // An honest member sends one status a second.
  messagesPerSec: 20,
  messageBurst: 60,
};
