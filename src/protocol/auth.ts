/**
 * Challenge–response proof of a shared secret: the secret never crosses the wire.
 * The member proves itself with HMAC-SHA256(secret, "member|<leader nonce>|<name>"); the leader
 * proves itself back with HMAC-SHA256(secret, "leader|<member nonce>"), so a member cannot be
 * steered by a stranger pretending to be its leader either.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function memberProof(secret: string, leaderNonce: string, name: string): string {
  return createHmac('sha256', secret).update(`member|${leaderNonce}|${name}`).digest('hex');
}

export function leaderProof(secret: string, memberNonce: string): string {
  return createHmac('sha256', secret).update(`leader|${memberNonce}`).digest('hex');
}

export function proofsMatch(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Reads a secret file (first line, trimmed); refuses empty secrets and says how to make one. */
export function readSecretFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read secret file ${file}: ${(e as Error).message}. Create one with: head -c 32 /dev/urandom | base64 > ${file} && chmod 600 ${file}`);
  }
  const secret = (text.split(/\r?\n/)[0] ?? '').trim();
  if (secret.length < 8) {
    throw new Error(`secret file ${file} must hold a secret of at least 8 characters on its first line`);
  }
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) process.emitWarning(`secret file ${file} is readable by other users; run: chmod 600 ${file}`);
  return secret;
}
