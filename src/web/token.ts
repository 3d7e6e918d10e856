/**
 * The web remote's access token. With a party secret it is derived from it one-way
 * (deriveKey(secret, "web-token"), HKDF-SHA256): the secret itself never appears in a URL, the
 * link survives restarts, and a new secret retires old links. An open party (--open) has no
 * secret: the leader makes a random token once and keeps it (0600, written atomically) in its
 * state dir, so the phone's bookmark survives restarts; with no file it lives for this run only.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writePrivateFile } from '../party/state-dir.js';

import { deriveKey } from '../party/party-secret.js';

export const WEB_TOKEN_PURPOSE = 'web-token';
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;

export function deriveWebToken(secret: string): string {
  return deriveKey(secret, WEB_TOKEN_PURPOSE).toString('base64url');
}

/** A random token: 32 bytes, base64url (43 characters). */
export function randomWebToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The stored token in `file`, or a new one written there (folder 0700, file 0600, temp + rename).
 * A malformed file is replaced.
 */
export function storedWebToken(file: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (TOKEN_PATTERN.test(text)) return text;
  } catch {
    /* first run */
  }
  const token = randomWebToken();
  writePrivateFile(file, token + '\n');
  return token;
}

export interface WebTokenSource {
  secret: string | null;
  /** where a generated token is kept (null: not kept) */
  file: string | null;
}

export function webToken(o: WebTokenSource): { token: string; source: 'secret' | 'stored' | 'ephemeral' } {
  if (o.secret) return { token: deriveWebToken(o.secret), source: 'secret' };
  if (o.file) return { token: storedWebToken(o.file), source: 'stored' };
  return { token: randomWebToken(), source: 'ephemeral' };
}

/** Constant-time comparison of a presented token with the real one. */
export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
