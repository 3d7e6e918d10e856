/**
 * The leader's list of paired members: each pairing hands the member a key of its own (32
 * random bytes), remembered here by member name, so that one member can be removed
 * (`syncplay ctl forget NAME`) without re-pairing the others. Kept 0600 in the state dir as
 * paired-members.json, written atomically; an unreadable file is set aside, not fatal.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { JsonStateFile } from '../state/json-state-file.js';

const entrySchema = z.object({ key: z.string().regex(/^[0-9a-f]{64}$/), pairedAt: z.string().max(64) });
const fileSchema = z.object({ version: z.literal(1), members: z.record(z.string().min(1).max(64), entrySchema) });

export function pairedMembersPath(stateDir: string): string {
  return join(stateDir, 'paired-members.json');
}

export class PairedMembers {
  private members = new Map<string, z.infer<typeof entrySchema>>();
  private readonly state: JsonStateFile<z.infer<typeof fileSchema>> | null;

  constructor(file: string | null, log: Logger) {
    this.state = file ? new JsonStateFile(file, fileSchema, { what: 'paired members', without: 'members pair again', pretty: true }, log) : null;
    const saved = this.state?.load();
    if (saved) this.members = new Map(Object.entries(saved.members));
  }

  keyFor(name: string): string | null {
    return this.members.get(name)?.key ?? null;
  }

  names(): { name: string; pairedAt: string }[] {
    return [...this.members].map(([name, e]) => ({ name, pairedAt: e.pairedAt }));
  }

  /** A new key for `name` (a member pairing again gets a new one; the old stops working). */
  add(name: string): string {
    const key = randomBytes(32).toString('hex');
    this.members.set(name, { key, pairedAt: new Date().toISOString() });
    this.save();
    return key;
  }

  forget(name: string): boolean {
    const had = this.members.delete(name);
    if (had) this.save();
    return had;
  }

  private save(): void {
    this.state?.save({ version: 1, members: Object.fromEntries(this.members) });
  }
}
