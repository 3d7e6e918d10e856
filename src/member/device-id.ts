/**
 * This device's identity as a member: a random id kept in its state dir, sent in every hello.
 * The leader knows a returning member by it: the same device coming back under its name replaces
 * its own stale session at once (and keeps its settings); another device asking for a name in
 * use is told so. It is no secret (the party secret authenticates); it only tells devices apart.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writePrivateFile } from '../party/state-dir.js';

export const DEVICE_ID_PATTERN = /^[0-9a-f]{32}$/;

/** Reads the device id from `stateDir`, creating it on first use; a broken file is replaced. */
export function loadOrCreateDeviceId(stateDir: string): string {
  const file = join(stateDir, 'member-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (DEVICE_ID_PATTERN.test(id)) return id;
  } catch {
    /* first run */
  }
  const id = randomBytes(16).toString('hex');
  try {
    writePrivateFile(file, `${id}\n`);
  } catch {
    /* a read-only state dir: this run keeps the id in memory */
  }
  return id;
}
