/**
 * Where a device keeps what it must remember (party secret, paired members, pairings it made):
 * $XDG_STATE_HOME/syncplay, else ~/.local/state/syncplay. Files that hold keys are written
 * 0600 inside a 0700 folder, through a temporary file renamed into place (a crash never leaves
 * half a key).
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'syncplay');
}

/** Writes `text` to `file` atomically, readable by this user only. */
export function writePrivateFile(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
