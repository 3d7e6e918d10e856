/**
 * Opens a file for the player with the check made on what was actually opened, not on a path
 * looked at earlier: the last component is opened with O_NOFOLLOW (a file swapped for a symlink
 * fails), and the kernel's name for the open descriptor (/proc/self/fd/N) must lie inside the
 * music dir (a directory on the way swapped for a link elsewhere fails). The player is then
 * handed /proc/<pid>/fd/N, which names that very open file: renaming or replacing the path after
 * the check changes nothing it plays. Where /proc is missing the path itself is returned.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';

export type OpenInside = { ok: true; fd: number | null; playPath: string } | { ok: false; reason: string };

const HAVE_PROC_FD = existsSync('/proc/self/fd');

export function openInside(root: string, absPath: string): OpenInside {
  if (!HAVE_PROC_FD) return { ok: true, fd: null, playPath: absPath };
  let fd: number;
  try {
    fd = openSync(absPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ELOOP' ? `${absPath} was replaced by a symbolic link` : `cannot open ${absPath}: ${(e as Error).message}` };
  }
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${absPath} is no longer a regular file`);
    const opened = readlinkSync(`/proc/self/fd/${fd}`);
    const rootReal = realpathSync(root);
    const rel = relative(rootReal, opened);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${absPath} now leads outside ${root} (to ${opened})`);
    return { ok: true, fd, playPath: `/proc/${process.pid}/fd/${fd}` };
  } catch (e) {
    closeSync(fd);
    return { ok: false, reason: (e as Error).message };
  }
}
