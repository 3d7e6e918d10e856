/**
 * When a start is heard, measured with a click: the start scenario's first track has one sample
 * at 0.9 of full scale (the click) 100 ms in, where the music is quiet, so the first recorded
 * sample that reaches half of it is that sample, found to one sample (23 µs) whatever the music
 * around it does. Not at the very first sample: a start on the output's block grid begins at the
 * first block edge at or after the instant, from the position the timeline has there (up to one
 * block into the track), and would skip it.
 *
 * Its time comes from the capture's arrival times, not from when the recorder was launched:
 * parec hands over each chunk once its last frame is captured, so chunk j (frames up to F_j,
 * arrived at a_j) says frame F_j − 1 was captured no later than a_j, i.e. frame k no later than
 * a_j − (F_j − 1 − k) / rate. The tightest of these bounds over the chunks near k — the lower
 * envelope of the points (F_j / rate, a_j − (F_j − 1) / rate), interpolated at k — is frame k's
 * capture time to the recorder's wake-up latency. Local, because a capture need not run at
 * exactly the rate of the monotonic clock: one with 1 ms fragments gained ~0.9 ms per second
 * here, so a single bound over a whole recording put its start 55–70 ms off.
 *
 * The recorder hears the room's monitor, which gets each block as the sink mixes it; PulseAudio
 * counts a block as played from then on, one sample after another, so a block's last frame is
 * captured when its first is played: played = captured − block + (frame's place in the block),
 * i.e. captured + one mixing block for every frame (`mixBlockMs`). Members aim at PulseAudio's
 * "played" time, as a real output's DAC would play it.
 */

/** The click: one sample at this level (of full scale)… */
export const CLICK_LEVEL = 0.9;
/** …this far into the track, s. */
export const CLICK_AT_SEC = 0.1;
/** A recorded sample at this fraction of the click level is the click (the music near it must stay below). */
export const CLICK_THRESHOLD = CLICK_LEVEL / 2;
/** The music must stay below half the threshold from the start to this long after the click, ms (else the first loud sample could be music). */
export const CLICK_CLEAR_MS = 50;

/**
 * `channels` (one Float32Array per channel, ±1 full scale) with the click at CLICK_AT_SEC.
 * Throws when the music before it or within CLICK_CLEAR_MS after it would come near the threshold.
 */
export function withClick(channels: readonly Float32Array[], sampleRate: number): Float32Array[] {
  const at = Math.round(CLICK_AT_SEC * sampleRate);
  const clear = at + Math.round((CLICK_CLEAR_MS / 1000) * sampleRate);
  for (const ch of channels) {
    if (ch.length <= clear) throw new Error('the track is too short for a click');
    for (let i = 0; i < clear; i++) {
      if (Math.abs(ch[i]!) >= CLICK_THRESHOLD / 2) throw new Error(`the track is too loud for a click near its start (${ch[i]!.toFixed(3)} at sample ${i})`);
    }
  }
  return channels.map((ch) => {
    const out = Float32Array.from(ch);
    out[at] = CLICK_LEVEL;
    return out;
  });
}

/** Index of the first sample in [from, to) whose magnitude reaches `threshold`, or null. */
export function clickIndex(samples: Float32Array, from: number, to: number, threshold = CLICK_THRESHOLD): number | null {
  for (let i = Math.max(0, from); i < Math.min(to, samples.length); i++) if (Math.abs(samples[i]!) >= threshold) return i;
  return null;
}

/** The mixing block of the room as the recorder receives it: the median chunk, ms. */
export function mixBlockMs(arrivals: readonly (readonly [number, number])[], sampleRate: number): number | null {
  const sizes = arrivals.slice(1).map(([, f], i) => f - arrivals[i]![1]).sort((a, b) => a - b);
  return sizes.length ? (sizes[Math.floor(sizes.length / 2)]! / sampleRate) * 1000 : null;
}

/**
 * Capture time of frame `k` (monotonic ms) from the chunks' arrivals ([arrival ms, frames
 * received so far], in order): the lower envelope of the causal bounds of the chunks within
 * `windowMs` of it (see the module comment). Null when no chunk is near.
 */
export function captureTimeOf(arrivals: readonly (readonly [number, number])[], sampleRate: number, k: number, windowMs = 1000): number | null {
  const xk = (k / sampleRate) * 1000;
  // points (x: frame count in ms, y: implied time of frame 0), near k
  const pts: [number, number][] = [];
  for (const [at, frames] of arrivals) {
    const x = (frames / sampleRate) * 1000;
    if (Math.abs(x - xk) <= windowMs) pts.push([x, at - ((frames - 1) / sampleRate) * 1000]);
  }
  if (!pts.length) return null;
  // lower convex hull (monotone chain; x increases with the frames received)
  const hull: [number, number][] = [];
  for (const p of pts) {
    while (hull.length >= 2) {
      const [a, b] = [hull[hull.length - 2]!, hull[hull.length - 1]!];
      if ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) <= 0) hull.pop();
      else break;
    }
    if (hull.length && hull[hull.length - 1]![0] === p[0]) {
      if (p[1] < hull[hull.length - 1]![1]) hull[hull.length - 1] = p;
      continue;
    }
    hull.push(p);
  }
  // the envelope at xk (flat beyond its ends)
  let y: number;
  if (xk <= hull[0]![0]) y = hull[0]![1];
  else if (xk >= hull[hull.length - 1]![0]) y = hull[hull.length - 1]![1];
  else {
    let i = 1;
    while (hull[i]![0] < xk) i++;
    const [a, b] = [hull[i - 1]!, hull[i]!];
    y = a[1] + ((b[1] - a[1]) * (xk - a[0])) / (b[0] - a[0]);
  }
  return y + xk;
}

export interface ClickOnset {
  /** the click's frame in the recording */
  frame: number;
  /** when the recorder captured it, monotonic ms */
  capturedMs: number;
  /** when PulseAudio counts it played: captured + one mixing block, monotonic ms */
  playedMs: number;
}

/**
 * The click of one recorded channel, searched from `searchFromMs` to `searchToMs` (monotonic ms,
 * on the capture's time): null when no sample reaches the threshold there.
 */
export function findClick(samples: Float32Array, arrivals: readonly (readonly [number, number])[], sampleRate: number, searchFromMs: number, searchToMs: number): ClickOnset | null {
  const block = mixBlockMs(arrivals, sampleRate);
  if (block === null) return null;
  // Frames near the search window: start from the frame the arrivals put at searchFromMs.
  const frameAt = (tMs: number): number | null => {
    let lo = 0;
    let hi = arrivals.length - 1;
    if (hi < 0) return null;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arrivals[mid]![0] < tMs) lo = mid + 1;
      else hi = mid;
    }
    return arrivals[lo]![1];
  };
  const f0 = frameAt(searchFromMs);
  const f1 = frameAt(searchToMs + 2 * block);
  if (f0 === null || f1 === null) return null;
  const from = Math.max(0, f0 - Math.ceil((4 * block * sampleRate) / 1000));
  for (let i = clickIndex(samples, from, f1); i !== null; i = clickIndex(samples, i + 1, f1)) {
    const capturedMs = captureTimeOf(arrivals, sampleRate, i);
    if (capturedMs === null) return null;
    if (capturedMs < searchFromMs) continue;
    if (capturedMs > searchToMs) return null;
    return { frame: i, capturedMs, playedMs: capturedMs + block };
  }
  return null;
}
