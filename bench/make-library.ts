/**
 * Generates a realistic music library for the big-library tests and benchmark: nested
 * artist/album folders with unicode, spaces and apostrophes in names, real audio files that mpv
 * and music-metadata read (with title/artist/album tags), every file's content distinct (so
 * every content hash differs), and some files over 3 MiB.
 *
 * The files are small on disk so that 100,000 of them fit:
 * - most are MP3: an ID3v2.3 tag (title, artist, album, track number: unique per file) and
 *   silent MPEG-2 Layer III frames at 8 kbit/s (36 bytes per 36 ms), DURATION_SEC long;
 * - BIG_EVERY-th file is a WAV over 3 MiB (44.1 kHz 16-bit mono, 40 s – 4 min) with a LIST/INFO
 *   tag, a short tone at the start and the rest a hole in a sparse file (silence that takes no
 *   disk space; the sampled hash of a big file still differs through the tag and the tone).
 *
 * Usage: node dist/bench/make-library.js DIR --count N [--seed S]
 */
import { closeSync, mkdirSync, openSync, writeSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from './seeded-random.js';
import { benchArgs } from './args.js';

export interface LibraryOptions {
  count: number;
  seed?: number;
  /** MP3 durations, seconds (uniform) */
  minSec?: number;
  maxSec?: number;
  /** every this many files is a big sparse WAV (0: none) */
  bigEvery?: number;
}

export interface LibrarySummary {
  files: number;
  bigFiles: number;
  artists: number;
  albums: number;
  apparentBytes: number;
  /** relative paths in library order (artist, album, track) */
  paths: string[];
}

const TRACKS_PER_ALBUM = 12;
const ALBUMS_PER_ARTIST = 4;
const FIRST = ['Ana', 'Björk', "O'Neil", 'Zoë', 'Jean-Luc', 'Ólafur', 'Mary Ann', 'Łukasz', 'Søren', 'Renée', 'José', 'Ю́лия', '美咲', 'D\u2019Angelo'];
const LAST = ['Quartet', 'and the Night', 'Ensemble', 'Trio', 'Brothers', "& Friends", 'Orkestar', 'Collective'];
const WORDS = ['Morning', 'Drift', 'Harbour', 'Lights', 'Paper', 'Lanterns', "Don't", 'Stop', 'Ça', 'va', 'Über', 'Straße', 'Naïve', 'Café', 'Night', 'Rain', 'Blue', 'Song', 'for', 'you', "It's", 'Over', 'Now', '東京', 'Mañana'];

export function makeLibrary(dir: string, o: LibraryOptions): LibrarySummary {
  const rand = seededRandom(o.seed ?? 1);
  const minSec = o.minSec ?? 8;
  const maxSec = o.maxSec ?? 30;
  const bigEvery = o.bigEvery ?? 33;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const phrase = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const paths: string[] = [];
  let bigFiles = 0;
  let apparentBytes = 0;
  let artists = 0;
  let albums = 0;
  for (let i = 0; i < o.count; ) {
    const artist = `${pick(FIRST)} ${pick(LAST)} ${artists + 1}`;
    artists++;
    for (let a = 0; a < ALBUMS_PER_ARTIST && i < o.count; a++) {
      const album = `${phrase(2)} (${1970 + Math.floor(rand() * 55)})`;
      albums++;
      const albumDir = path.join(dir, artist, album);
      mkdirSync(albumDir, { recursive: true });
      for (let t = 1; t <= TRACKS_PER_ALBUM && i < o.count; t++, i++) {
        const title = `${phrase(1 + Math.floor(rand() * 3))} #${i + 1}`;
        const big = bigEvery > 0 && i % bigEvery === bigEvery - 1;
        const name = `${String(t).padStart(2, '0')} - ${title.replace(/[/\\]/g, '-')}.${big ? 'wav' : 'mp3'}`;
        const file = path.join(albumDir, name);
        if (big) {
          apparentBytes += writeSparseWav(file, 40 + rand() * 200, { title, artist, album }, rand);
          bigFiles++;
        } else {
          apparentBytes += writeMp3(file, minSec + rand() * (maxSec - minSec), { title, artist, album, track: t });
        }
        paths.push(path.relative(dir, file).split(path.sep).join('/'));
      }
    }
  }
  return { files: paths.length, bigFiles, artists, albums, apparentBytes, paths };
}

/** ID3v2.3 tag with text frames (UTF-16 with BOM, so any name survives). */
function id3(tags: { title: string; artist: string; album: string; track: number }): Buffer {
  const frame = (id: string, text: string): Buffer => {
    const body = Buffer.concat([Buffer.from([1, 0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const head = Buffer.alloc(10);
    head.write(id, 0, 'latin1');
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  const frames = Buffer.concat([frame('TIT2', tags.title), frame('TPE1', tags.artist), frame('TALB', tags.album), frame('TRCK', String(tags.track))]);
  const header = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]);
  // Size as a "syncsafe" integer: 7 bits per byte.
  const n = frames.length;
  header[6] = (n >> 21) & 0x7f;
  header[7] = (n >> 14) & 0x7f;
  header[8] = (n >> 7) & 0x7f;
  header[9] = n & 0x7f;
  return Buffer.concat([header, frames]);
}

/** MPEG-2 Layer III, 8 kbit/s, 16 kHz, mono: 576 samples (36 ms) in 36 bytes; all-zero side info = silence. */
const MP3_FRAME = (() => {
  const f = Buffer.alloc(36);
  f.set([0xff, 0xf3, 0x18, 0xc4]);
  return f;
})();
const MP3_FRAME_SEC = 576 / 16000;

function writeMp3(file: string, seconds: number, tags: { title: string; artist: string; album: string; track: number }): number {
  const frames = Math.max(1, Math.round(seconds / MP3_FRAME_SEC));
  const body = Buffer.alloc(frames * MP3_FRAME.length);
  for (let k = 0; k < frames; k++) MP3_FRAME.copy(body, k * MP3_FRAME.length);
  const content = Buffer.concat([id3(tags), body]);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return content.length;
}

function writeSparseWav(file: string, seconds: number, tags: { title: string; artist: string; album: string }, rand: () => number): number {
  const rate = 44_100;
  const dataBytes = Math.round(seconds * rate) * 2;
  const info = (id: string, text: string): Buffer => {
    const t = Buffer.from(text + '\0', 'utf8');
    const padded = Buffer.alloc(t.length + (t.length % 2));
    t.copy(padded);
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(t.length, 4);
    return Buffer.concat([head, padded]);
  };
  const infoBody = Buffer.concat([Buffer.from('INFO', 'latin1'), info('INAM', tags.title), info('IART', tags.artist), info('IPRD', tags.album)]);
  const list = Buffer.concat([Buffer.from('LIST', 'latin1'), u32(infoBody.length), infoBody]);
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8); // PCM
  fmt.writeUInt16LE(1, 10); // mono
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * 2, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(16, 22);
  // Half a second of a tone whose pitch is random: real samples, different in every file.
  const toneSamples = rate / 2;
  const tone = Buffer.alloc(toneSamples * 2);
  const hz = 200 + rand() * 600;
  for (let k = 0; k < toneSamples; k++) tone.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * k) / rate)), k * 2);
  const dataHead = Buffer.concat([Buffer.from('data', 'latin1'), u32(dataBytes)]);
  const head = Buffer.concat([Buffer.from('RIFF', 'latin1'), u32(4 + fmt.length + list.length + dataHead.length + dataBytes), Buffer.from('WAVE', 'latin1'), fmt, list, dataHead, tone]);
  const total = head.length - tone.length + dataBytes;
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, head);
    ftruncateSync(fd, total); // the rest: a hole, read as zeros (silence)
  } finally {
    closeSync(fd);
  }
  return total;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values: v, positionals, usage } = benchArgs(
    'node dist/bench/make-library.js DIR --count N [options]',
    {
      count: { type: 'string', value: 'N', help: 'files to write' },
      seed: { type: 'string', value: 'S', help: 'seed of the names and lengths' },
      'min-sec': { type: 'string', value: 'S', help: 'shortest track, seconds' },
      'max-sec': { type: 'string', value: 'S', help: 'longest track, seconds' },
      'big-every': { type: 'string', value: 'N', help: 'every Nth file is a sparse file over 3 MiB' },
    },
    { positionals: true },
  );
  const dir = positionals[0];
  const opt = (name: keyof typeof v): number | undefined => (v[name] === undefined ? undefined : Number(v[name]));
  const count = opt('count');
  if (!dir || !count || !Number.isInteger(count) || count < 1) {
    process.stderr.write(usage + '\n');
    process.exit(2);
  }
  const started = Date.now();
  const s = makeLibrary(dir, {
    count,
    ...(opt('seed') !== undefined ? { seed: opt('seed')! } : {}),
    ...(opt('min-sec') !== undefined ? { minSec: opt('min-sec')! } : {}),
    ...(opt('max-sec') !== undefined ? { maxSec: opt('max-sec')! } : {}),
    ...(opt('big-every') !== undefined ? { bigEvery: opt('big-every')! } : {}),
  });
  process.stdout.write(`${s.files} files (${s.bigFiles} over 3 MiB, sparse) by ${s.artists} artists on ${s.albums} albums, ${(s.apparentBytes / 2 ** 20).toFixed(0)} MiB apparent, in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}\n`);
}
