/**
 * Per-member settings (volume, mute, latency offset) that the leader remembers by member name
 * across restarts, in a small JSON file. A write goes to a temporary file renamed into place,
 * so a crash never leaves half a file; an unreadable file is reported and set aside, not fatal.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { memberSettingsSchema, type MemberSettings } from '../protocol/index.js';

export const DEFAULT_MEMBER_SETTINGS: MemberSettings = { volume: 100, muted: false, latencyOffsetMs: null };

const fileSchema = z.object({ version: z.literal(1), members: z.record(z.string(), memberSettingsSchema) });

export function defaultStateFile(): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'syncplay', 'members.json');
}

export class MemberSettingsStore {
  private members = new Map<string, MemberSettings>();

  constructor(private readonly file: string | null, private readonly log: Logger) {
    if (file) this.load(file);
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

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return; // first run
    }
    const parsed = fileSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      const aside = `${file}.unreadable-${Date.now()}`;
      this.log.warn(`member settings file ${file} is not valid; moved it to ${aside} and starting with defaults`);
      try {
        renameSync(file, aside);
      } catch {
        /* leave it */
      }
      return;
    }
    this.members = new Map(Object.entries(parsed.data.members));
  }

  private save(): void {
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp-${process.pid}`;
      writeFileSync(tmp, JSON.stringify({ version: 1, members: Object.fromEntries(this.members) }, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (e) {
      this.log.warn(`cannot save member settings to ${this.file}: ${(e as Error).message}`);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
