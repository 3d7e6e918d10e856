/** How a member's fetch progress is written: the member's status line, `ctl status` and the leader's UI. */
import type { FetchProgressMessage } from '../../protocol/index.js';

const mb = (bytes: number): string => (bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0);

/** "fetching track 3: 45% of 27 MB at 2.1 MB/s, 4 to go", or null when there is nothing to say. */
export function fetchText(p: FetchProgressMessage | null | undefined): string | null {
  if (!p) return null;
  if (p.trackIndex !== null && p.totalBytes > 0) {
    const pct = Math.floor((100 * p.doneBytes) / p.totalBytes);
    const rest = p.queued > 1 ? `, ${p.queued - 1} more to go` : '';
    return `fetching track ${p.trackIndex + 1}: ${pct}% of ${mb(p.totalBytes)} MB at ${mb(p.rateBps)} MB/s${rest}`;
  }
  if (p.error) return `fetch failed (${p.error.slice(0, 120)}), ${p.queued} to go`;
  if (p.queued > 0) return `${p.queued} tracks to fetch`;
  return null;
}

/** A few characters for a table cell: "↓45%" while a track comes in, "" otherwise. */
export function fetchCell(p: FetchProgressMessage | null | undefined): string {
  if (!p || p.trackIndex === null || p.totalBytes <= 0) return '';
  return `↓${Math.floor((100 * p.doneBytes) / p.totalBytes)}%`;
}
