/**
 * How far ahead the leader sets a command's instant. Every command is set `--lead-ms` ahead (plus
 * the slowest member's round trip) so that it reaches every member before it takes effect. A start
 * from silence at a track's beginning (PLAY when stopped) is set `--start-lead-ms` ahead: nothing
 * is audible meanwhile, and the time lets members pre-roll the start on silence and align it
 * before it is heard (member/sync/start-arming.ts).
 *
 * 1.5 s: members pre-roll when a start leaves them ~0.65 s of silence after arming (~0.25 s); 1.5 s
 * leaves ~1.2 s, two alignment rounds, and a start a whole mixing block (10 ms) off is within
 * ~0.3 ms by the time it is heard.
 */
export const DEFAULT_START_LEAD_MS = 1500;
