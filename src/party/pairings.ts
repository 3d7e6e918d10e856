/**
 * What a member (or calibrator) learned by pairing, per party: the party's name, the name it
 * paired as and the key the leader issued it. Kept 0600 in its state dir as pairings.json,
 * written atomically, so the code is never needed again.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { JsonStateFile } from '../state/json-state-file.js';

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

const pairingsFile = (stateDir: string): JsonStateFile<z.infer<typeof fileSchema>> => new JsonStateFile(pairingsPath(stateDir), fileSchema, { what: 'pairings', without: 'pair again with --join CODE', pretty: true });

/** Every stored pairing by party id; an unreadable file is an error that names it. */
export function readPairings(stateDir: string): Map<string, Pairing> {
  const r = pairingsFile(stateDir).read();
  if (r.kind === 'missing') return new Map();
  if (r.kind === 'invalid') throw new Error(`${pairingsPath(stateDir)} is not a valid pairings file: move it aside and pair again with --join CODE`);
  return new Map(Object.entries(r.data.parties));
}

export function savePairing(stateDir: string, partyId: string, pairing: Pairing): void {
  const all = readPairings(stateDir);
  all.set(partyId, pairing);
  pairingsFile(stateDir).write({ version: 1, parties: Object.fromEntries(all) });
}

/** The ids of the parties this device has paired with (none if the file is unreadable). */
export function pairedPartyIds(stateDir: string): string[] {
  try {
    return [...readPairings(stateDir).keys()];
  } catch {
    return [];
  }
}
