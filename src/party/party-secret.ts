/**
 * The party secret: 32 random bytes the leader creates on first start (unless --open) and keeps
 * in its state dir as `party-secret` (0600, one line of base64url), or reads from --secret-file.
 * It never crosses the wire. Everything else is derived from it one-way:
 *   - the party id, shown in discovery and the handshake so members find their credentials;
 *   - named keys for other uses (`deriveKey(secret, "web-token")`), so one leaked derived
 *     key does not reveal the secret or another key.
 * This is the one module that stores and loads it; other parts call loadPartySecret().
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSecretFile } from '../protocol/auth.js';
import { writePrivateFile } from './state-dir.js';

export const PARTY_SECRET_FILE_NAME = 'party-secret';

export interface PartySecret {
  /** the secret itself (never logged, never sent) */
  secret: string;
  /** public, one-way: 16 hex digits of SHA-256("syncplay party id|" + secret) */
  id: string;
  /** the file it was read from */
  file: string;
  /** true when this call created it */
  created: boolean;
}

export function partySecretPath(stateDir: string): string {
  return join(stateDir, PARTY_SECRET_FILE_NAME);
}

export function partyIdOf(secret: string): string {
  return createHash('sha256').update(`syncplay party id|${secret}`).digest('hex').slice(0, 16);
}

/** A key for one purpose, derived from the party secret with HKDF-SHA256 (32 bytes). */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `syncplay ${purpose}`, 32));
}

/** Reads a secret file (--secret-file, or the state dir's party-secret). */
export function loadPartySecretFile(file: string): PartySecret {
  const secret = readSecretFile(file);
  return { secret, id: partyIdOf(secret), file, created: false };
}

/** The state dir's party secret, created (0600) on first use. */
export function loadOrCreatePartySecret(stateDir: string): PartySecret {
  const file = partySecretPath(stateDir);
  if (existsSync(file)) return loadPartySecretFile(file);
  const secret = randomBytes(32).toString('base64url');
  writePrivateFile(file, `${secret}\n`);
  return { secret, id: partyIdOf(secret), file, created: true };
}

/** The state dir's party secret if there is one (e.g. a calibrator on the leader's machine). */
export function loadPartySecret(stateDir: string): PartySecret | null {
  const file = partySecretPath(stateDir);
  return existsSync(file) ? loadPartySecretFile(file) : null;
}
