/**
 * Where a device keeps what it must remember (party secret, paired members, pairings it made):
 * $XDG_STATE_HOME/syncplay, else ~/.local/state/syncplay. Files that hold keys are written
 * 0600 inside a 0700 folder, atomically (src/state/atomic-file.ts: a crash never leaves half a key).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/atomic-file.js';

export function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'syncplay');
}

/** Writes `text` to `file` atomically and durably, readable by this user only. */
export function writePrivateFile(file: string, text: string): void {
  writeFileAtomic(file, text, { mode: 0o600, dirMode: 0o700 });
}
