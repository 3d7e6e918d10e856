import fs from 'node:fs';
import path from 'node:path';

export type ResolveResult = { ok: true; absPath: string } | { ok: false; reason: string };

/**
 * Real paths of folders, remembered while many files in the same folders are resolved (a scan,
 * a member's check). Resolving a file's real path walks every component of its path (an lstat
 * each); a library of 100,000 files in a few thousand folders needs only the folders' walks and
 * one lstat per file. Keep one for one pass: a folder replaced by a symlink afterwards is seen by
 * the next pass.
 */
export class RealPathCache {
  private readonly dirs = new Map<string, string>();

  /** The real path of the folder `dir`; throws like fs.realpathSync. */
  real(dir: string): string {
    let r = this.dirs.get(dir);
    if (r === undefined) {
      r = fs.realpathSync(dir);
      this.dirs.set(dir, r);
    }
    return r;
  }
}

/**
 * Resolves a track path (relative to the music dir, '/' separators) to an absolute path,
 * refusing anything that could reach outside the music dir: absolute paths, `..` segments,
 * NUL bytes, and existing files/folders whose real path (after symlinks) lies outside.
 *
 * A path that does not exist but is lexically inside is accepted (`ok: true`); the caller is
 * expected to report it as missing. Its deepest existing ancestor is still symlink-checked.
 */
export function resolveInside(musicDir: string, relPath: string, realPaths: RealPathCache | null = null): ResolveResult {
  if (typeof relPath !== 'string' || relPath === '') return { ok: false, reason: 'empty path' };
  if (relPath.includes('\0')) return { ok: false, reason: 'path contains a NUL byte' };
  if (path.posix.isAbsolute(relPath) || path.win32.isAbsolute(relPath) || (path.sep === '\\' && /^[a-z]:/i.test(relPath))) {
    return { ok: false, reason: 'absolute paths are not allowed (paths must be relative to the music dir)' };
  }
  const segments = relPath.split(path.sep === '\\' ? /[\\/]/ : '/');
  if (segments.includes('..')) return { ok: false, reason: "'..' segments are not allowed (path would leave the music dir)" };

  const root = path.resolve(musicDir);
  const absPath = path.resolve(root, ...segments.filter((s) => s !== '' && s !== '.'));
  if (absPath === root) return { ok: false, reason: 'path refers to the music dir itself, not a file' };
  if (!isLexicallyInside(root, absPath)) return { ok: false, reason: 'path leaves the music dir' };

  let realRoot: string;
  try {
    realRoot = realPaths ? realPaths.real(root) : fs.realpathSync(root);
  } catch {
    return { ok: true, absPath }; // music dir missing: nothing to escape through; caller reports missing
  }

  // Find the deepest existing component (the file itself in the normal case).
  let probe = absPath;
  for (;;) {
    let lst: fs.Stats | undefined;
    try {
      lst = fs.lstatSync(probe);
    } catch {
      lst = undefined;
    }
    if (lst) {
      let real: string;
      try {
        // A file that is not a symlink is where its folder really is.
        real = realPaths && probe === absPath && !lst.isSymbolicLink() ? path.join(realPaths.real(path.dirname(probe)), path.basename(probe)) : fs.realpathSync(probe);
      } catch (err) {
        return { ok: false, reason: `broken symlink (${(err as NodeJS.ErrnoException).code ?? 'unresolvable'})` };
      }
      if (real !== realRoot && !isLexicallyInside(realRoot, real)) {
        return { ok: false, reason: `symlink points outside the music dir (to ${real})` };
      }
      return { ok: true, absPath };
    }
    const parent = path.dirname(probe);
    if (parent === probe || parent === root || !isLexicallyInside(root, parent)) return { ok: true, absPath };
    probe = parent;
  }
}

/**
 * The POSIX-style path of `absPath` relative to `musicDir`, or null when it is not strictly
 * inside. Purely lexical first; if that fails, retries with both sides' real paths (so a music
 * dir given through a symlink still matches). Does not check where the file itself points:
 * use `resolveInside` on the result for that.
 */
export function toRelativeInside(musicDir: string, absPath: string): string | null {
  const root = path.resolve(musicDir);
  const abs = path.resolve(absPath);
  if (isLexicallyInside(root, abs)) return toPosix(path.relative(root, abs));
  try {
    const realRoot = fs.realpathSync(root);
    const realParent = fs.realpathSync(path.dirname(abs));
    const candidate = path.join(realParent, path.basename(abs));
    if (isLexicallyInside(realRoot, candidate)) return toPosix(path.relative(realRoot, candidate));
  } catch {
    // not resolvable: treat as outside
  }
  return null;
}

function isLexicallyInside(root: string, abs: string): boolean {
  const rel = path.relative(root, abs);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

function toPosix(p: string): string {
  return path.sep === '/' ? p : p.split(path.sep).join('/');
}
