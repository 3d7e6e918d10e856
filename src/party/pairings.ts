/**
 * What a member (or calibrator) learned by pairing, per party: the party's name, the name it
 * paired as and the key the leader issued it. Kept 0600 in its state dir as pairings.json,
 * written atomically, so the code is never needed again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writePrivateFile } from './state-dir.js';

const pairingSchema = z.object({
  partyName: z.string().min(1).max(64),
  memberName: z.string().min(1).max(64),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  pairedAt: z.string().max(64),
});
const fileSchema = z.object({ version: z.literal(1), parties: z.record(z.string().regex(/^[0-9a-f]{16}$/), pairingSchema) });

export type Pairing = z.infer<typeof pairingSchema>;

export function pairingsPath(stateDir: string): string {
  return join(stateDir, 'pairings.json');
}

/** Every stored pairing by party id; an unreadable file counts as none (and is named in the error). */
export function readPairings(stateDir: string): Map<string, Pairing> {
  const file = pairingsPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  let raw: unknown = null;
  try {
    raw = JSON.parse(text);
  } catch {
    /* below */
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file} is not a valid pairings file: move it aside and pair again with --join CODE`);
  return new Map(Object.entries(parsed.data.parties));
}

export function savePairing(stateDir: string, partyId: string, pairing: Pairing): void {
  const all = readPairings(stateDir);
  all.set(partyId, pairing);
  writePrivateFile(pairingsPath(stateDir), JSON.stringify({ version: 1, parties: Object.fromEntries(all) }, null, 2) + '\n');
}

/** The ids of the parties this device has paired with (none if the file is unreadable). */
export function pairedPartyIds(stateDir: string): string[] {
  try {
    return [...readPairings(stateDir).keys()];
  } catch {
    return [];
  }
}
