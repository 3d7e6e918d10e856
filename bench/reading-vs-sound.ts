/**
 * Does a member's reading of its own position follow its sound? Works on a saved sync-bench run
 * (`--save-audio`): the recording, the members' telemetry and the timelines.
 *
 *   node dist/bench/reading-vs-sound.js bench/results/sync-<time>.json [--scenario loopback] [--run 1]
 *
 * Per 1-s window (hop 0.5 s) in the steady part of a run (from 8 s after PLAY; 1.5 s before to 3.5 s
 * after each command left out), for each member i against m1:
 *   d = (i's recorded lag behind m1) − (what the telemetry says it is: m1's mean true error − i's)
 * is how far the two members' sound and their readings disagree. It prints d's mean and sd, its
 * autocorrelation (a slow d is one no filter of the readings removes) and its correlation with the
 * members' speed difference over the second centred 0.3 s before the window's centre ("now") and the
 * second before that ("earlier"), with the slope of d on the first; and its correlation with the
 * difference of the two members' reading round trips (the kept readings' mean over the window),
 * with the slope: a reading stamped at a fraction f of its round trip while mpv reads the value at α
 * looks ahead by (α − f)·RTT, so d = (α − f)·(RTT_i − RTT_1) — a slope near 0 means f fits.
 *
 * Reading it: a member steers its speed by its readings. If a reading carries an error n that the
 * sound does not, the controller moves the speed against n within a few tenths of a second, and d
 * (which is n_i − n_1) falls as the speed difference rises: most strongly "now", with a slope near
 * −1/(the loop's effective gain), −1 to −2 s. A sound that followed a speed change later than the
 * readings do would instead tie d to the "earlier" speeds, with a slope of minus that extra delay.
 */
import { existsSync, readFileSync } from 'node:fs';
import { channelLags, deinterleaveS16 } from './audio-spread.js';
import { telemetryLagMs, trueErrors, type Series, type TrueReading } from './sync-analysis.js';
import { benchArgs, numberOption } from './args.js';
import { mean } from './stats.js';
import type { Timeline, Track } from '../src/protocol/messages.js';
import type { TelemetryLine } from '../src/member/telemetry.js';

interface SavedRun {
  scenario: string;
  run: number;
  playAt: number;
  endMs: number;
  timelines: Timeline[];
  tracks: Pick<Track, 'durationSec'>[];
}

interface RecordingMeta {
  sampleRate: number;
  channels: number;
  firstSampleMs: number;
}

interface MemberFit {
  member: string;
  windows: number;
  meanMs: number;
  sdMs: number;
  /** autocorrelation of d at 0.5, 1, 2 and 4 s */
  autocorr: number[];
  /** correlation of d with the speed difference "now" and "earlier" */
  speedCorr: number;
  earlierCorr: number;
  /** d per unit of speed difference, s */
  speedSlopeSec: number;
  /** correlation of d with the round-trip difference, and d per ms of it */
  rttCorr: number;
  rttSlope: number;
}

const STEADY_FROM_MS = 8000;
const BEFORE_COMMAND_MS = 1500;
const AFTER_COMMAND_MS = 3500;
/** "now": the speed difference over [−0.8 s, +0.2 s] around the window's centre; "earlier": the second before */
const SPEED_NOW_MS: [number, number] = [-800, 200];
const SPEED_EARLIER_MS: [number, number] = [-1800, -800];

function pearson(pairs: readonly [number, number][]): { r: number; slope: number } {
  const n = pairs.length;
  const mx = pairs.reduce((a, [x]) => a + x, 0) / n;
  const my = pairs.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return { r: sxy / Math.sqrt(sxx * syy), slope: sxy / sxx };
}

function meanOf(series: Series, member: string, from: number, to: number, value: (r: TrueReading) => number): number | null {
  return mean((series.get(member) ?? []).filter((r) => r.t >= from && r.t < to).map(value));
}

function meanSpeed(series: Series, member: string, from: number, to: number): number | null {
  return meanOf(series, member, from, to, (r) => r.speed);
}

function readRecording(dir: string): { meta: RecordingMeta; channels: Float32Array[] } {
  const meta = JSON.parse(readFileSync(`${dir}/recording.json`, 'utf8')) as RecordingMeta;
  return { meta, channels: deinterleaveS16(readFileSync(`${dir}/recording.s16`), meta.channels) };
}

export function readingVsSound(run: SavedRun, dir: string, names: readonly string[]): MemberFit[] {
  const lines = names.flatMap((n) =>
    readFileSync(`${dir}/${n}.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TelemetryLine),
  );
  const { series } = trueErrors(lines, run.timelines, run.tracks);
  const { meta, channels } = readRecording(dir);
  const windows = channelLags(channels, { sampleRate: meta.sampleRate, windowSec: 1, hopSec: 0.5, maxLagMs: 20 });
  const commands = run.timelines.map((t) => t.at);
  const steady = windows
    .map((w) => ({ w, at: meta.firstSampleMs + w.tSec * 1000 }))
    .filter(({ at }) => at >= run.playAt + STEADY_FROM_MS && at <= run.endMs && !commands.some((c) => at > c - BEFORE_COMMAND_MS && at < c + AFTER_COMMAND_MS));
  return names.slice(1).map((member, k) => {
    const i = k + 1;
    const d: (number | null)[] = [];
    const withSpeed: [number, number][] = [];
    const withEarlier: [number, number][] = [];
    const withRtt: [number, number][] = [];
    for (const { w, at } of steady) {
      const expected = telemetryLagMs(series, names[0]!, member, at);
      const lag = w.lagMs[i];
      if (expected === null || lag === null || lag === undefined) {
        d.push(null);
        continue;
      }
      const di = lag - expected;
      d.push(di);
      const diff = ([from, to]: [number, number]): number | null => {
        const s0 = meanSpeed(series, names[0]!, at + from, at + to);
        const si = meanSpeed(series, member, at + from, at + to);
        return s0 === null || si === null ? null : si - s0;
      };
      const now = diff(SPEED_NOW_MS);
      const earlier = diff(SPEED_EARLIER_MS);
      if (now !== null) withSpeed.push([now, di]);
      if (earlier !== null) withEarlier.push([earlier, di]);
      const rtt0 = meanOf(series, names[0]!, at - 500, at + 500, (r) => r.ipcRttMs);
      const rtti = meanOf(series, member, at - 500, at + 500, (r) => r.ipcRttMs);
      if (rtt0 !== null && rtti !== null) withRtt.push([rtti - rtt0, di]);
    }
    const known = d.filter((x): x is number => x !== null);
    const meanMs = mean(known) ?? NaN;
    const sdMs = Math.sqrt(known.reduce((a, x) => a + (x - meanMs) ** 2, 0) / known.length);
    const autocorr = [1, 2, 4, 8].map((lagSteps) => {
      const pairs: [number, number][] = [];
      for (let j = 0; j + lagSteps < d.length; j++) {
        const a = d[j];
        const b = d[j + lagSteps];
        if (a !== null && a !== undefined && b !== null && b !== undefined) pairs.push([a, b]);
      }
      return pairs.length > 2 ? pearson(pairs).r : NaN;
    });
    const fit = withSpeed.length > 2 ? pearson(withSpeed) : { r: NaN, slope: NaN };
    const fitEarlier = withEarlier.length > 2 ? pearson(withEarlier) : { r: NaN, slope: NaN };
    const fitRtt = withRtt.length > 2 ? pearson(withRtt) : { r: NaN, slope: NaN };
    // slope is ms of d per unit of speed difference: ms → s
    return { member, windows: known.length, meanMs, sdMs, autocorr, speedCorr: fit.r, earlierCorr: fitEarlier.r, speedSlopeSec: fit.slope / 1000, rttCorr: fitRtt.r, rttSlope: fitRtt.slope };
  });
}

function main(): void {
  const { values, positionals, usage } = benchArgs(
    'node dist/bench/reading-vs-sound.js RESULTS.json [options]',
    {
      scenario: { type: 'string', value: 'name', help: 'only this scenario (default: every one with a recording)' },
      run: { type: 'string', value: 'n', help: 'only this run' },
    },
    { positionals: true },
  );
  const file = positionals[0];
  if (!file) throw new Error(`a results file is needed\n${usage}`);
  const onlyRun = values.run === undefined ? null : numberOption('--run', values.run, 1);
  const results = (JSON.parse(readFileSync(file, 'utf8')) as { results: SavedRun[] }).results;
  const names = ['m1', 'm2', 'm3'];
  console.log('| run | member vs m1 | windows | d mean / sd, ms | d autocorrelation at 0.5 / 1 / 2 / 4 s | corr. with speed difference, now / earlier | slope on now, s | corr. with round-trip difference (slope) |');
  console.log('|---|---|---:|---|---|---|---:|---|');
  for (const run of results) {
    if (run.scenario === 'snapcast' || (values.scenario && run.scenario !== values.scenario) || (onlyRun !== null && run.run !== onlyRun)) continue;
    // (the bench names a run's folder by its scenario alone when it ran one run of each)
    const base = file.replace(/\.json$/, '');
    const numbered = `${base}/${run.scenario}-${run.run}`;
    const dir = existsSync(numbered) ? numbered : `${base}/${run.scenario}`;
    let fits: MemberFit[];
    try {
      fits = readingVsSound(run, dir, names);
    } catch (e) {
      console.log(`| ${run.scenario} ${run.run} | — | no recording or telemetry in ${dir} (${(e as Error).message.split('\n')[0]}) | | | | | |`);
      continue;
    }
    for (const f of fits) {
      console.log(
        `| ${run.scenario} ${run.run} | ${f.member} | ${f.windows} | ${f.meanMs.toFixed(3)} / ${f.sdMs.toFixed(3)} | ${f.autocorr.map((a) => a.toFixed(2)).join(' / ')} | ${f.speedCorr.toFixed(2)} / ${f.earlierCorr.toFixed(2)} | ${f.speedSlopeSec.toFixed(2)} | ${f.rttCorr.toFixed(2)} (${f.rttSlope.toFixed(2)}) |`,
      );
    }
  }
}

if (process.argv[1] && /reading-vs-sound\.[jt]s$/.test(process.argv[1])) main();
