/**
 * How far ahead the leader sets a command's instant. Every command is set `--lead-ms` ahead (plus
 * the slowest member's round trip) so that it reaches every member before it takes effect. A start
 * from silence at a track's beginning (PLAY when stopped) is set `--start-lead-ms` ahead: nothing
 * is audible meanwhile, and the time lets members pre-roll the start on silence and align it
 * before it is heard (member/sync/start-arming.ts).
 *
 * 2.5 s: arming takes ~0.4–0.5 s, so this leaves the longest silence a member pre-rolls (2 s): three
 * or four alignment rounds of ~0.45 s (a reading, a slew, the 0.35 s the output takes to show it).
 * Recorded on loopback and clean links, first 1-s window after a `ctl play`: spread 0.034–0.146 ms
 * at 2.5 s (4 runs); 0.114–0.417 at 2 s (~1.55 s of silence, 4 runs); 0.065–4.4 at 1.5 s (~1.05 s,
 * 10 runs: two rounds, and a 10 % slew that removes a 15 ms error leaves up to 1.5 ms with no time
 * to measure again).
 */
export const DEFAULT_START_LEAD_MS = 2500;
