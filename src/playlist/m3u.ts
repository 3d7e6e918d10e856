import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface M3uEntry {
  /** Absolute path, resolved against the folder of the playlist file. */
  location: string;
  /** Display text of the preceding #EXTINF line (often "Artist - Title"). */
  extinfTitle?: string;
  /** Duration of the preceding #EXTINF line; absent when unknown (-1) or unparsable. */
  extinfDurationSec?: number;
  /** 1-based line number in the playlist file, for messages. */
  line?: number;
}

const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const WINDOWS_ABSOLUTE = /^(?:[a-z]:[\\/]|\\\\)/i;

/**
 * Parses an m3u / m3u8 playlist. Pure: no file system access.
 *
 * - BOM, CRLF/CR line endings, blank lines and `#` lines other than `#EXTINF` are tolerated/ignored.
 * - Relative entries are resolved against the folder of `playlistFile`; absolute entries are kept.
 * - `file://` URLs are converted to paths (percent-escapes decoded).
 * - Other URLs (http, https, ...) are unsupported: they are skipped and described in `warnings`.
 *
 * @param warnings optional array that receives one human-readable message per skipped line.
 */
export function parseM3u(text: string, playlistFile: string, warnings: string[] = []): M3uEntry[] {
  const baseDir = path.dirname(path.resolve(playlistFile));
  const name = path.basename(playlistFile);
  const entries: M3uEntry[] = [];
  let pending: { title?: string; durationSec?: number } | undefined;

  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.forEach((rawLine, idx) => {
    const lineNo = idx + 1;
    const line = rawLine.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      if (/^#EXTINF:/i.test(line)) pending = parseExtinf(line.slice('#EXTINF:'.length));
      return; // #EXTM3U and any other directive/comment
    }

    const info = pending;
    pending = undefined;
    const location = toLocation(line, baseDir, (why) => warnings.push(`${name}:${lineNo}: skipping "${line}": ${why}`));
    if (location === undefined) return;

    const entry: M3uEntry = { location, line: lineNo };
    if (info?.title) entry.extinfTitle = info.title;
    if (info?.durationSec !== undefined) entry.extinfDurationSec = info.durationSec;
    entries.push(entry);
  });
  return entries;
}

/** `#EXTINF:<secs>[ attr="v" ...],<title>` → duration and title. */
function parseExtinf(rest: string): { title?: string; durationSec?: number } {
  const comma = indexOfUnquotedComma(rest);
  const head = comma < 0 ? rest : rest.slice(0, comma);
  const title = comma < 0 ? '' : rest.slice(comma + 1).trim();
  const m = /^\s*(-?\d+(?:\.\d+)?)/.exec(head);
  const secs = m ? Number(m[1]) : NaN;
  const out: { title?: string; durationSec?: number } = {};
  if (Number.isFinite(secs) && secs >= 0) out.durationSec = secs;
  if (title !== '') out.title = title;
  return out;
}

/** The first comma not inside double quotes (attributes like tvg-name="a, b" may contain commas). */
function indexOfUnquotedComma(s: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) return i;
  }
  return -1;
}

function toLocation(entry: string, baseDir: string, warn: (why: string) => void): string | undefined {
  const scheme = URL_SCHEME.exec(entry)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    try {
      return path.normalize(fileURLToPath(entry));
    } catch (err) {
      warn(`invalid file:// URL (${(err as Error).message})`);
      return undefined;
    }
  }
  if (scheme !== undefined) {
    warn(`${scheme}:// URLs are not supported (only local files can be played in sync)`);
    return undefined;
  }
  if (path.sep === '/' && WINDOWS_ABSOLUTE.test(entry)) {
    warn('Windows absolute paths cannot be resolved on this system; use paths relative to the playlist');
    return undefined;
  }
  let p = entry;
  // Playlists written on Windows use '\' separators; on POSIX treat them as separators
  // when the entry uses no '/' at all (a literal '\' in a POSIX file name is very rare).
  if (path.sep === '/' && p.includes('\\') && !p.includes('/')) p = p.replace(/\\/g, '/');
  return path.resolve(baseDir, p);
}
