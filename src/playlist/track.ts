/** One playable entry of a playlist, identical on every device. */
export interface Track {
  /** Path relative to the music dir, POSIX '/' separators (never absolute, never contains '..'). */
  path: string;
  /** Lowercase hex sha256 of the file content. */
  hash: string;
  /** Duration in seconds as reported by music-metadata. */
  durationSec: number;
  /** Tag title, else the #EXTINF title, else the file name without extension. */
  title: string;
  artist?: string;
}
