/**
 * Time values typed by the clock they belong to. All are milliseconds in a plain number at run
 * time; the brand exists only for the compiler, so a value of one clock cannot be passed or
 * stored where another clock's is expected:
 *
 * - LocalMs: this process's monotonic clock (monotonicMs()). Never steps; its zero is arbitrary
 *   and differs per process, so it is meaningless on another device.
 * - SharedMs: the party's shared clock, on which timelines are stated: the leader's monotonic
 *   clock, or UTC through NTP under --ntp. A member reaches it only through a ClockMapping
 *   (toShared / toLocal), which its clock estimator or NTP client keeps.
 * - WallMs: UTC wall-clock time (Date.now()): schedules and dates people read. It can step.
 *
 * Differences of two values of one clock are plain numbers (durations). Arithmetic on a branded
 * value gives a plain number; re-brand the result with the constructor of the same clock.
 */
declare const clockBrand: unique symbol;

export type LocalMs = number & { readonly [clockBrand]: 'local' };
export type SharedMs = number & { readonly [clockBrand]: 'shared' };
export type WallMs = number & { readonly [clockBrand]: 'wall' };

/** A local monotonic instant computed from others (e.g. `localMs(now + delay)`). */
export const localMs = (ms: number): LocalMs => ms as LocalMs;
/** A shared-clock instant computed from others, or received from the leader. */
export const sharedMs = (ms: number): SharedMs => ms as SharedMs;
/** A UTC wall-clock instant. */
export const wallMs = (ms: number): WallMs => ms as WallMs;

/** Now on the UTC wall clock. */
export const wallNow = (): WallMs => Date.now() as WallMs;
