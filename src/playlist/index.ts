export type { Track } from './track.js';
export { parseM3u, type M3uEntry } from './m3u.js';
export { scanMusicDir, isAudioFile, naturalCompare, AUDIO_EXTENSIONS, type ScanOptions } from './scan.js';
export { hashFile, shortHash, clearHashCache, hashCacheStats } from './content-hash.js';
export { RealPathCache, resolveInside, toRelativeInside, type ResolveResult } from './safe-path.js';
export { loadPlaylist, type LoadPlaylistOptions, type LoadedPlaylist } from './load-playlist.js';
export { shuffled } from './shuffle.js';
