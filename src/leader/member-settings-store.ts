/**
 * Per-member settings (volume, mute, latency offset) that the leader remembers by member name
 * across restarts, in a small JSON state file (written atomically; an unreadable file is
 * reported and set aside, not fatal).
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { defaultStateDir } from '../party/state-dir.js';
import { memberSettingsSchema, type MemberSettings } from '../protocol/index.js';
import { JsonStateFile } from '../state/json-state-file.js';

export const DEFAULT_MEMBER_SETTINGS: MemberSettings = { volume: 100, muted: false, latencyOffsetMs: null };

const fileSchema = z.object({ version: z.literal(1), members: z.record(z.string(), memberSettingsSchema) });

export function defaultStateFile(): string {
  return join(defaultStateDir(), 'members.json');
}

export class MemberSettingsStore {
  private members = new Map<string, MemberSettings>();
  private readonly state: JsonStateFile<z.infer<typeof fileSchema>> | null;

  constructor(file: string | null, log: Logger) {
    this.state = file ? new JsonStateFile(file, fileSchema, { what: 'member settings', without: 'starting with defaults', pretty: true }, log) : null;
    const saved = this.state?.load();
    if (saved) this.members = new Map(Object.entries(saved.members));
  }

  get(name: string): MemberSettings {
    return this.members.get(name) ?? { ...DEFAULT_MEMBER_SETTINGS };
  }

  set(name: string, patch: Partial<MemberSettings>): MemberSettings {
    const next = memberSettingsSchema.parse({ ...this.get(name), ...patch });
    this.members.set(name, next);
    this.save();
    return next;
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  private save(): void {
    this.state?.save({ version: 1, members: Object.fromEntries(this.members) });
  }
}
