/**
 * A small JSON state file (settings, pairings, the party): validated on the way in, written
 * atomically and durably on the way out (atomic-file.ts). Every such file carries a `version`
 * (its schema says which): a file of another version, or one that is not JSON or does not match,
 * is "invalid" — `load()` moves it aside (`<file>.unreadable-<ms>`) with a warning and carries on
 * without it, so a bad file never stops the program and is never overwritten unseen.
 */
import { readFileSync, renameSync } from 'node:fs';
import type { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from './atomic-file.js';

export type StateRead<T> = { kind: 'missing' } | { kind: 'ok'; data: T } | { kind: 'invalid'; reason: string };

export interface JsonStateOptions {
  /** what the file holds, for messages ("member settings") */
  what: string;
  /** what happens without it, for the warning when it is set aside ("starting with defaults") */
  without: string;
  /** indented JSON (files people read) or one line (default) */
  pretty?: boolean;
  /** permissions (default 0o600) */
  mode?: number;
}

export class JsonStateFile<T extends { version: number }> {
  constructor(
    readonly file: string,
    private readonly schema: z.ZodType<T>,
    private readonly opts: JsonStateOptions,
    private readonly log?: Logger,
  ) {}

  /** What is on disk: nothing, a valid state, or something invalid (and why). Never throws. */
  read(): StateRead<T> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return { kind: 'missing' };
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { kind: 'invalid', reason: 'not JSON' };
    }
    const parsed = this.schema.safeParse(raw);
    if (!parsed.success) return { kind: 'invalid', reason: parsed.error.issues.slice(0, 3).map((i) => `${i.path.slice(0, 4).map((k) => JSON.stringify(String(k).slice(0, 40))).join('.') || 'the file'}: ${i.message}`).join('; ') };
    return { kind: 'ok', data: parsed.data };
  }

  /** The valid state, or null (none yet, or an invalid file, which is set aside with a warning). */
  load(): T | null {
    const r = this.read();
    if (r.kind === 'ok') return r.data;
    if (r.kind === 'invalid') this.setAside(r.reason);
    return null;
  }

  /** Writes the state atomically; throws when it cannot. */
  write(data: T): void {
    const text = (this.opts.pretty ? JSON.stringify(data, null, 2) : JSON.stringify(data)) + '\n';
    writeFileAtomic(this.file, text, { mode: this.opts.mode ?? 0o600 });
  }

  /** Writes the state atomically; a failure is a warning (the program keeps its state in memory). */
  save(data: T): boolean {
    try {
      this.write(data);
      return true;
    } catch (e) {
      this.log?.warn(`cannot save ${this.opts.what} to ${this.file}: ${(e as Error).message}`);
      return false;
    }
  }

  private setAside(reason: string): void {
    const aside = `${this.file}.unreadable-${Date.now()}`;
    try {
      renameSync(this.file, aside);
      this.log?.warn(`${this.opts.what} file ${this.file} is not valid (${reason}); moved it to ${aside}: ${this.opts.without}`);
    } catch {
      this.log?.warn(`${this.opts.what} file ${this.file} is not valid (${reason}) and cannot be moved aside: ${this.opts.without}`);
    }
  }
}
