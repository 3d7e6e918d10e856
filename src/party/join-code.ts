/**
 * The leader's join code: 8 random digits shown as "1234-5678", typed once on each new member.
 * The pairing (SPAKE2) leaks nothing about it to an eavesdropper, so its length only has to
 * hold out against online guesses, and those are bounded: a code lives PAIR_CODE_TTL_MS and
 * takes at most PAIR_CODE_MAX_FAILURES failed pairings before a fresh one replaces it. That
 * leaves an attacker at most 20 guesses out of 10^8 per code (2·10^-7).
 */
import { randomInt } from 'node:crypto';
import { monotonicMs } from '../clock/monotonic.js';

/** How long a join code stays valid: long enough to walk to three speakers, short enough to go stale. */
export const PAIR_CODE_TTL_MS = 60 * 60_000;
/** Failed pairings a code survives before it is replaced. */
export const PAIR_CODE_MAX_FAILURES = 20;

/** "1234 5678", "12345678", " 1234-5678 " → "12345678"; null when it is not 8 digits. */
export function normalizeJoinCode(text: string): string | null {
  const digits = text.replace(/[\s-]/g, '');
  return /^\d{8}$/.test(digits) ? digits : null;
}

export function formatJoinCode(digits: string): string {
  return `${digits.slice(0, 4)}-${digits.slice(4)}`;
}

export interface JoinCodeView {
  /** "1234-5678" */
  code: string;
  expiresInSec: number;
}

export class JoinCodes {
  private digits = '';
  private expiresAtMs = 0;
  private failures = 0;

  constructor(
    private readonly onRotate: (reason: string, view: JoinCodeView) => void = () => {},
    private readonly now: () => number = monotonicMs,
  ) {
    this.rotate('new');
  }

  /** The code in force (a fresh one once it has expired). */
  current(): JoinCodeView {
    if (this.now() >= this.expiresAtMs) this.rotate('the last one expired');
    return { code: formatJoinCode(this.digits), expiresInSec: Math.max(0, Math.round((this.expiresAtMs - this.now()) / 1000)) };
  }

  /** The digits a pairing must prove, for the pairing about to start. */
  digitsForPairing(): string {
    this.current();
    return this.digits;
  }

  rotate(reason = 'asked for'): JoinCodeView {
    this.digits = String(randomInt(0, 100_000_000)).padStart(8, '0');
    this.expiresAtMs = this.now() + PAIR_CODE_TTL_MS;
    this.failures = 0;
    const view = this.current();
    this.onRotate(reason, view);
    return view;
  }

  /** A pairing with `digits` failed (wrong code or abandoned): counts toward replacing it. */
  failed(digits: string): void {
    if (digits !== this.digits) return; // an older code: already replaced
    this.failures += 1;
    if (this.failures >= PAIR_CODE_MAX_FAILURES) this.rotate(`${PAIR_CODE_MAX_FAILURES} failed pairings`);
  }
}
