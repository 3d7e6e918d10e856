#!/usr/bin/env node
// Synthesizes the bundled example playlist (playlists/*.ogg + playlists/example.m3u8).
//
// Everything is generated from code (no samples, no third-party audio), so the
// tracks are free of any licence restrictions. The output is deterministic for a
// given ffmpeg/libvorbis build: a seeded PRNG drives melodies and noise.
//
// Usage: node scripts/make-example-tracks.mjs [outDir]   (needs ffmpeg with libvorbis)
//
// The audio deliberately avoids short periodicities (random-walk melodies, slowly
// drifting detune, filtered noise texture, echoes) so that cross-correlation of
// two recordings has a single clear peak.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SR = 44100;
const ARTIST = 'syncplay examples';
const ALBUM = 'syncplay examples';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(process.argv[2] ?? path.join(here, '..', 'playlists'));

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const midiToHz = (m) => 440 * 2 ** ((m - 69) / 12);

const MAJOR = [0, 2, 4, 5, 7, 9, 11];
const MINOR = [0, 2, 3, 5, 7, 8, 10];

/** Scale degree (0-based, may exceed 6 or be negative) -> semitone offset. */
function degree(scale, d) {
  const oct = Math.floor(d / 7);
  const i = ((d % 7) + 7) % 7;
  return scale[i] + 12 * oct;
}

/** Triad (or seventh) on a scale degree, as semitone offsets from the tonic. */
function chord(scale, d, seventh = false) {
  const notes = [degree(scale, d), degree(scale, d + 2), degree(scale, d + 4)];
  if (seventh) notes.push(degree(scale, d + 6));
  return notes;
}

const TRACKS = [
  {
    file: '01-morning-drift.ogg',
    title: 'Morning Drift',
    seed: 11,
    seconds: 24,
    tonic: 60, // C4
    scale: MAJOR,
    bpm: 76,
    progression: [0, 4, 5, 3], // I V vi IV
    sevenths: false,
    melody: { style: 'bell', stepsPerBeat: 1, restProb: 0.25, octave: 12, level: 0.16 },
    bass: { level: 0.2, pattern: [0] },
    pad: { level: 0.1, bright: 0.25 },
    arp: null,
    noise: { level: 0.02, cutoff: 1400 },
    echo: { l: 0.41, r: 0.53, fb: 0.33, mix: 0.3 },
  },
  {
    file: '02-harbour-lights.ogg',
    title: 'Harbour Lights',
    seed: 23,
    seconds: 26,
    tonic: 57, // A3
    scale: MINOR,
    bpm: 100,
    progression: [0, 5, 2, 6], // i VI III VII
    sevenths: true,
    melody: { style: 'soft', stepsPerBeat: 0.5, restProb: 0.15, octave: 12, level: 0.13 },
    bass: { level: 0.22, pattern: [0, 2] },
    pad: { level: 0.06, bright: 0.1 },
    arp: { stepsPerBeat: 2, level: 0.09 },
    noise: { level: 0.022, cutoff: 3000 },
    echo: { l: 0.3, r: 0.45, fb: 0.28, mix: 0.25 },
  },
  {
    file: '03-paper-lanterns.ogg',
    title: 'Paper Lanterns',
    seed: 37,
    seconds: 22,
    tonic: 62, // D4
    scale: MAJOR,
    bpm: 120,
    progression: [0, 3, 1, 4, 0, 5, 3, 4], // I IV ii V I vi IV V
    sevenths: false,
    melody: { style: 'pluck', stepsPerBeat: 2, restProb: 0.3, octave: 12, level: 0.12 },
    bass: { level: 0.2, pattern: [0, 1.5, 2, 3] },
    pad: { level: 0.05, bright: 0.35 },
    arp: null,
    noise: { level: 0.016, cutoff: 5000, shaker: 0.04 },
    echo: { l: 0.25, r: 0.375, fb: 0.25, mix: 0.22 },
  },
];

/** Adds one enveloped note into the stereo buffers. */
function addNote(L, R, { start, dur, freq, level, pan = 0, style, rand }) {
  const s0 = Math.max(0, Math.floor(start * SR));
  const tail = style === 'pad' ? 0.8 : style === 'soft' ? 0.5 : 1.2;
  const n = Math.min(L.length - s0, Math.floor((dur + tail) * SR));
  if (n <= 0) return;
  const gl = level * Math.cos(((pan + 1) * Math.PI) / 4);
  const gr = level * Math.sin(((pan + 1) * Math.PI) / 4);
  const vibRate = 4.5 + rand() * 1.5;
  const vibDepth = style === 'soft' ? 0.003 : 0.0008;
  const detune = 1 + (rand() - 0.5) * 0.002;
  const phase0 = rand() * Math.PI * 2;
  let ph = phase0;
  let ph2 = phase0 * 0.7;
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    let env;
    if (style === 'pad') {
      const a = Math.min(1, t / 0.6);
      const r = t > dur ? Math.max(0, 1 - (t - dur) / 0.8) : 1;
      env = a * a * r;
    } else if (style === 'soft') {
      const a = Math.min(1, t / 0.08);
      const r = t > dur ? Math.max(0, 1 - (t - dur) / 0.5) : 1;
      env = a * r * (0.75 + 0.25 * Math.exp(-t * 3));
    } else {
      // bell / pluck: fast attack, exponential decay
      const a = Math.min(1, t / 0.005);
      const k = style === 'bell' ? 2.2 : 4.5;
      env = a * Math.exp(-t * k);
    }
    const f = freq * detune * (1 + vibDepth * Math.sin(2 * Math.PI * vibRate * t));
    ph += (2 * Math.PI * f) / SR;
    let v;
    if (style === 'bell') {
      ph2 += (2 * Math.PI * f * 2.76) / SR;
      v = Math.sin(ph) + 0.35 * Math.sin(ph2) * Math.exp(-t * 3) + 0.15 * Math.sin(2 * ph);
    } else if (style === 'pluck') {
      v = Math.sin(ph) + 0.4 * Math.sin(2 * ph) * Math.exp(-t * 6) + 0.2 * Math.sin(3 * ph) * Math.exp(-t * 9);
    } else if (style === 'soft') {
      v = Math.sin(ph) + 0.25 * Math.sin(2 * ph) + 0.08 * Math.sin(3 * ph);
    } else {
      v = Math.sin(ph);
    }
    L[s0 + i] += v * env * gl;
    R[s0 + i] += v * env * gr;
  }
}

function synth(spec) {
  const rand = rng(spec.seed);
  const total = Math.round(spec.seconds * SR);
  const L = new Float64Array(total);
  const R = new Float64Array(total);
  const beat = 60 / spec.bpm;
  const bar = 4 * beat;
  const nBars = Math.ceil(spec.seconds / bar);

  // Melody: random walk over the scale (pentatonic-ish: skip 4th and 7th degrees).
  const allowed = [0, 1, 2, 4, 5];
  let mdeg = 2;
  const mStep = beat / spec.melody.stepsPerBeat;

  for (let b = 0; b < nBars; b++) {
    const d = spec.progression[b % spec.progression.length];
    const notes = chord(spec.scale, d, spec.sevenths);
    const t0 = b * bar;
    // Pad: chord voices, alternately panned, each with its own slow detune drift.
    notes.forEach((semi, i) => {
      const f = midiToHz(spec.tonic + semi);
      addNote(L, R, {
        start: t0, dur: bar, freq: f, level: spec.pad.level, pan: (i % 2 ? 0.5 : -0.5) * (0.6 + 0.4 * rand()),
        style: 'pad', rand,
      });
      if (spec.pad.bright > 0) {
        addNote(L, R, { start: t0, dur: bar, freq: f * 2.003, level: spec.pad.level * spec.pad.bright, pan: rand() - 0.5, style: 'pad', rand });
      }
    });
    // Bass.
    for (const p of spec.bass.pattern) {
      addNote(L, R, {
        start: t0 + p * beat, dur: beat * 0.9, freq: midiToHz(spec.tonic - 12 + notes[0]), level: spec.bass.level,
        pan: 0, style: 'soft', rand,
      });
    }
    // Arpeggio (random inversions so bars differ).
    if (spec.arp) {
      const steps = 4 * spec.arp.stepsPerBeat;
      for (let s = 0; s < steps; s++) {
        const semi = notes[Math.floor(rand() * notes.length)] + (rand() < 0.3 ? 12 : 0);
        addNote(L, R, {
          start: t0 + (s * beat) / spec.arp.stepsPerBeat, dur: beat / spec.arp.stepsPerBeat, freq: midiToHz(spec.tonic + semi),
          level: spec.arp.level * (0.7 + 0.3 * rand()), pan: Math.sin(s * 0.9 + b), style: 'pluck', rand,
        });
      }
    }
    // Melody, biased toward chord tones on strong steps.
    const mSteps = Math.round(bar / mStep);
    for (let s = 0; s < mSteps; s++) {
      const t = t0 + s * mStep;
      if (rand() < spec.melody.restProb) continue;
      mdeg += Math.floor(rand() * 5) - 2;
      if (mdeg < -2) mdeg = -2 + Math.floor(rand() * 3);
      if (mdeg > 9) mdeg = 9 - Math.floor(rand() * 3);
      let dd = mdeg;
      const inScale = ((dd % 7) + 7) % 7;
      if (!allowed.includes(inScale)) dd += 1;
      if (s === 0) dd = d + 7 * Math.round((mdeg - d) / 7);
      const semi = degree(spec.scale, dd) + spec.melody.octave;
      const len = mStep * (rand() < 0.2 ? 2 : 1);
      addNote(L, R, {
        start: t + (rand() - 0.5) * 0.012, dur: len * 0.85, freq: midiToHz(spec.tonic + semi),
        level: spec.melody.level * (0.8 + 0.2 * rand()), pan: (rand() - 0.5) * 0.6, style: spec.melody.style, rand,
      });
    }
  }

  // Gentle filtered noise texture with a slow, irregular swell (+ optional shaker).
  const a = Math.exp((-2 * Math.PI * spec.noise.cutoff) / SR);
  let nl = 0;
  let nr = 0;
  for (let i = 0; i < total; i++) {
    const t = i / SR;
    const swell = 0.6 + 0.25 * Math.sin(2 * Math.PI * 0.071 * t) + 0.15 * Math.sin(2 * Math.PI * 0.193 * t + 1);
    nl = a * nl + (1 - a) * (rand() * 2 - 1);
    nr = a * nr + (1 - a) * (rand() * 2 - 1);
    L[i] += nl * spec.noise.level * swell * 3;
    R[i] += nr * spec.noise.level * swell * 3;
  }
  if (spec.noise.shaker) {
    const eighth = beat / 2;
    for (let k = 0; k * eighth < spec.seconds; k++) {
      const s0 = Math.floor(k * eighth * SR);
      const lvl = spec.noise.shaker * (k % 2 ? 0.6 : 1) * (0.7 + 0.3 * rand());
      let hp = 0;
      let prev = 0;
      for (let i = 0; i < 0.09 * SR && s0 + i < total; i++) {
        const w = rand() * 2 - 1;
        hp = 0.9 * (hp + w - prev);
        prev = w;
        const env = Math.exp(-i / (0.02 * SR));
        L[s0 + i] += hp * lvl * env * 0.8;
        R[s0 + i] += hp * lvl * env;
      }
    }
  }

  // Stereo echo with incommensurate delay times.
  const dl = Math.round(spec.echo.l * SR);
  const dr = Math.round(spec.echo.r * SR);
  const el = new Float64Array(total);
  const er = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    const inl = L[i];
    const inr = R[i];
    const fl = i >= dl ? er[i - dl] : 0; // cross-feedback (ping-pong)
    const fr = i >= dr ? el[i - dr] : 0;
    el[i] = inr * 0.5 + fl * spec.echo.fb + (i >= dl ? L[i - dl] * 0.5 : 0);
    er[i] = inl * 0.5 + fr * spec.echo.fb + (i >= dr ? R[i - dr] * 0.5 : 0);
    L[i] = inl + el[i] * spec.echo.mix;
    R[i] = inr + er[i] * spec.echo.mix;
  }

  // Fades, soft saturation, normalise to -3 dBFS.
  const fadeIn = 0.4 * SR;
  const fadeOut = 2.5 * SR;
  let peak = 0;
  for (let i = 0; i < total; i++) {
    let g = 1;
    if (i < fadeIn) g *= Math.sin((Math.PI / 2) * (i / fadeIn)) ** 2;
    if (i > total - fadeOut) g *= Math.sin((Math.PI / 2) * ((total - i) / fadeOut)) ** 2;
    L[i] = Math.tanh(L[i] * g);
    R[i] = Math.tanh(R[i] * g);
    peak = Math.max(peak, Math.abs(L[i]), Math.abs(R[i]));
  }
  const norm = 10 ** (-3 / 20) / (peak || 1);
  const out = new Float32Array(total * 2);
  for (let i = 0; i < total; i++) {
    out[2 * i] = L[i] * norm;
    out[2 * i + 1] = R[i] * norm;
  }
  return out;
}

function encode(samples, spec, file) {
  return new Promise((resolve, reject) => {
    const args = [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'f32le', '-ar', String(SR), '-ac', '2', '-i', 'pipe:0',
      '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:a', '+bitexact',
      '-c:a', 'libvorbis', '-q:a', '4',
      '-metadata', `title=${spec.title}`,
      '-metadata', `artist=${ARTIST}`,
      '-metadata', `album=${ALBUM}`,
      '-metadata', 'comment=Synthesized by scripts/make-example-tracks.mjs; free to use for any purpose (CC0).',
      file,
    ];
    const ff = spawn('ffmpeg', args, { stdio: ['pipe', 'inherit', 'inherit'] });
    ff.on('error', (err) => reject(new Error(`could not start ffmpeg (is it installed?): ${err.message}`)));
    ff.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with code ${code}`))));
    ff.stdin.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  });
}

mkdirSync(outDir, { recursive: true });
const m3u = ['#EXTM3U', '#PLAYLIST:syncplay examples'];
for (const spec of TRACKS) {
  const file = path.join(outDir, spec.file);
  await encode(synth(spec), spec, file);
  m3u.push(`#EXTINF:${Math.round(spec.seconds)},${ARTIST} - ${spec.title}`, spec.file);
  console.log(`wrote ${path.relative(process.cwd(), file)} (${spec.seconds} s)`);
}
writeFileSync(path.join(outDir, 'example.m3u8'), m3u.join('\n') + '\n');
console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'example.m3u8'))}`);
