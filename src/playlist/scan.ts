import fs from 'node:fs/promises';
import path from 'node:path';

/** Lowercase file extensions (without dot) treated as audio files. */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  'mp3', 'flac', 'ogg', 'oga', 'opus', 'm4a', 'm4b', 'aac', 'wav', 'aiff', 'aif', 'aifc',
  'wma', 'mka', 'wv', 'ape', 'mpc', 'alac', 'caf', 'dsf', 'dff', 'spx', 'mp2',
]);

export function isAudioFile(name: string): boolean {
  const ext = path.extname(name).slice(1).toLowerCase();
  return AUDIO_EXTENSIONS.has(ext);
}

// Fixed locale so every device sorts identically regardless of its own locale settings.
const baseCollator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
const exactCollator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Natural order ("Track 2" < "Track 10"), case-insensitive first, always a total order. */
export function naturalCompare(a: string, b: string): number {
  return baseCollator.compare(a, b) || exactCollator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export interface ScanOptions {
  /** Receives a message for each folder that could not be read. */
  warnings?: string[];
  /** called with the number of audio files found so far, as the listing proceeds */
  onFound?: (count: number) => void;
}

/**
 * Recursively lists audio files under `musicDir` in natural order, as POSIX paths relative to
 * `musicDir`. Hidden files and folders (name starting with '.') are skipped. Entries of a
 * folder are ordered by name (files and sub-folders interleaved), folders are descended into
 * in place. Symlinked files are listed (callers check where they point with `resolveInside`);
 * symlinked folders are not followed (avoids cycles and escapes).
 */
export async function scanMusicDir(musicDir: string, opts: ScanOptions = {}): Promise<string[]> {
  const root = path.resolve(musicDir);
  const out: string[] = [];

  async function walk(absDir: string, relDir: string): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(absDir, { withFileTypes: true });
    } catch (err) {
      if (relDir === '') throw err;
      opts.warnings?.push(`Could not read folder "${relDir}": ${(err as Error).message}`);
      return;
    }
    entries.sort((a, b) => naturalCompare(a.name, b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const rel = relDir === '' ? e.name : `${relDir}/${e.name}`;
      const abs = path.join(absDir, e.name);
      if (e.isDirectory()) {
        await walk(abs, rel);
      } else if (isAudioFile(e.name)) {
        if (e.isFile()) out.push(rel);
        else if (e.isSymbolicLink()) {
          const st = await fs.stat(abs).catch(() => undefined);
          if (st?.isFile()) out.push(rel);
        }
        opts.onFound?.(out.length);
      }
    }
  }

  await walk(root, '');
  return out;
}
