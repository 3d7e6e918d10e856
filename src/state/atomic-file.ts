/**
 * Writing a file so that a crash at any moment leaves either the old contents or the new, never
 * a part: the data goes to a temporary file in the same folder, is flushed to the disk (fsync),
 * and only then renamed over the old one (rename within one file system is atomic); the folder
 * is flushed too, so the rename itself survives a power cut. A temporary file left by a crash is
 * never read: readers only open the real name.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** permissions of the file (default 0o600: state is this user's alone) */
  mode?: number;
  /** permissions of a folder created for it (default 0o700) */
  dirMode?: number;
}

/** The temporary name a write of `file` uses: same folder, this process, a random part. */
export function tempPathFor(file: string): string {
  return join(dirname(file), `${basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes `data` to `file` atomically and durably (temp + fsync + rename + fsync of the folder). */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: opts.dirMode ?? 0o700 });
  const tmp = tempPathFor(file);
  const mode = opts.mode ?? 0o600;
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode); // whatever the umask
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

/** fsync of a folder (makes a rename in it durable); some file systems refuse it, which is harmless. */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* not supported here */
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
