/**
 * `syncplay calibrate`: measure how late each member's speaker really sounds and store the latency
 * offsets that line them up.
 *
 * Run on any device with a microphone that can reach the leader. It joins the leader as a
 * calibrator, starts ONE continuous recording, and has each member in turn play the test sweep at
 * a shared instant T_i (each member renders the sweep itself and plays it through its own mpv,
 * shifted by its latency offset like music). Each member's sweep is then found in the recording
 * within ±window of where T_i falls, and the arrivals turn into new offsets (calibration.ts),
 * stored through the leader (`set-offset`, the same setting as `syncplay ctl offset`).
 *
 * `--self` needs no leader: see self-test.ts.
 */
import { escapeLines } from '../log/escape.js';
import { hostname } from 'node:os';
import { monotonicMs } from '../clock/monotonic.js';
import { sharedMs } from '../clock/time.js';
import { createLogger, type Logger } from '../log/logger.js';
import { LeaderLink } from '../member/leader-link.js';
import type { MemberSummary } from '../protocol/index.js';
import { askJoinCode } from '../party/ask-join-code.js';
import { establishMembership, type Membership } from '../party/membership.js';
import { defaultStateDir } from '../party/state-dir.js';
import { pairedPartyIds } from '../party/pairings.js';
import { locateLeader } from '../discovery/locate-leader.js';
import { resolve } from 'node:path';
import { Capture, detectCaptureTool, type CaptureTool } from './capture.js';
import { combineSweeps, planOffsets, scheduleSweeps, sweepSpacingMs, type MemberMeasurement, type OffsetPlan, type SweepArrival } from './calibration.js';
import { findArrival } from './correlate.js';
import { DEFAULT_SWEEP, renderSweep, type SweepSpec } from '../audio/signal.js';
import { runSelfTest, formatSelfTest } from './self-test.js';

export interface CalibrateOptions {
  ip?: string;
  port: number;
  secretFile?: string;
  /** --join CODE: pair with the leader's join code first (remembered in the state dir) */
  join?: string;
  stateDir?: string;
  /** with discovery (no --ip): the party to calibrate when several leaders answer */
  party?: string;
  member: string[];
  input?: string;
  captureTool?: CaptureTool;
  dryRun?: boolean;
  json?: boolean;
  /** ± search window around each member's expected arrival, ms */
  windowMs: number;
  /** minimum correlation peak over the noise to trust a measurement, dB */
  minConfidence: number;
  /** sweeps per member (the median is used; they must agree within maxSpreadMs) */
  repeat: number;
  /** most the repeated sweeps of one member may disagree, ms */
  maxSpreadMs: number;
  self?: boolean;
  audioDevice?: string;
  mpvArg: string[];
  mpvPath?: string;
  verbose?: boolean;
  version: string;
}

/** Thrown for problems the user must fix before calibrating; the message says how. */
export class CalibrateError extends Error {}

export const MUSIC_PLAYING_HINT = 'the music is playing: pause it first: syncplay ctl pause';

/** How long before its instant a member is asked to play: it loads the sweep and settles its timing. */
const REQUEST_LEAD_MS = 5000;
const JOIN_TIMEOUT_MS = 15_000;
const CAPTURE_SETTLE_MS = 2000;

export interface MemberResult {
  member: string;
  status: 'applied' | 'measured' | 'refused';
  /** how much later than the earliest member's this member's sound arrived, ms (null if not measured) */
  arrivalMs: number | null;
  confidenceDb: number | null;
  snrDb: number | null;
  /**
   * Heard minus due, ms, before subtracting the earliest: includes the capture path's own delay
   * and the error of placing the recording on this machine's clock (the same for every member).
   */
  rawArrivalMs: number | null;
  /** with --repeat: how far its sweeps' arrivals spread, ms */
  spreadMs: number | null;
  /** each sweep's raw arrival (as rawArrivalMs), in the order played; null where not found */
  sweepsMs: (number | null)[];
  currentOffsetMs: number | null;
  newOffsetMs: number | null;
  changeMs: number | null;
  reference: boolean;
  reason?: string;
}

export interface CalibrationReport {
  leader: string;
  dryRun: boolean;
  reference: string | null;
  captureTool: CaptureTool;
  input: string | null;
  /** the recording: its sample rate measured against this machine's clock, and its length */
  capture: { measuredRate: number | null; seconds: number };
  members: MemberResult[];
  ok: boolean;
}

/** Entry point for the CLI: returns the process exit code. */
export async function runCalibrate(o: CalibrateOptions): Promise<number> {
  const tool = pickCaptureTool(o.captureTool);
  if (o.self) {
    const result = await runSelfTest({
      tool,
      ...(o.input ? { input: o.input } : {}),
      ...(o.audioDevice ? { audioDevice: o.audioDevice } : {}),
      mpvArgs: o.mpvArg,
      ...(o.mpvPath ? { mpvPath: o.mpvPath } : {}),
      minConfidence: o.minConfidence,
      log: (m) => {
        if (!o.json) process.stderr.write(`${m}\n`);
      },
    });
    process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatSelfTest(result)}\n`);
    return result.ok ? 0 : 1;
  }
  // Without --ip the leader is found on the local network, as a member finds it.
  let at: { host: string; port: number };
  try {
    at = await locateLeader({ ...(o.ip ? { ip: o.ip } : {}), port: o.port, ...(o.party ? { party: o.party } : {}), pairedPartyIds: pairedPartyIds(resolve(o.stateDir ?? defaultStateDir())), log: createLogger(o.verbose ? 'debug' : 'error') });
  } catch (e) {
    throw new CalibrateError(`${(e as Error).message} (or --self to measure this device alone)`);
  }
  const report = await calibrateMembers({ ...o, ip: at.host, port: at.port }, tool, (m) => {
    if (!o.json) process.stderr.write(`${m}\n`);
  });
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

function pickCaptureTool(prefer: CaptureTool | undefined): CaptureTool {
  const found = detectCaptureTool(prefer);
  if (found.tool === null) throw new CalibrateError(`${found.installHint}; calibration records the test signal with one of them`);
  if (prefer && found.tool !== prefer) {
    throw new CalibrateError(`--capture-tool ${prefer}: ${prefer} is not installed (found ${found.tool}: leave out --capture-tool to use it)`);
  }
  return found.tool;
}

/** A logger for the leader link that keeps its last complaint (why it cannot join) for the error message. */
function linkLogger(verbose: boolean | undefined): { log: Logger; lastProblem: () => string | null } {
  let last: string | null = null;
  const inner = createLogger(verbose ? 'debug' : 'error');
  const log: Logger = {
    error: (m) => inner.error(m),
    warn: (m) => {
      last = m.replace(/^cannot join leader: /, '');
      inner.warn(m);
    },
    info: (m) => inner.info(m),
    debug: (m) => inner.debug(m),
    child: () => log,
  };
  return { log, lastProblem: () => last };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function joinLeader(o: CalibrateOptions & { ip: string }): Promise<LeaderLink> {
  const { log, lastProblem } = linkLogger(o.verbose);
  // The calibrator goes through the same pairing as a member (or uses this device's pairing).
  let membership: Membership;
  try {
    membership = await establishMembership({
      host: o.ip,
      port: o.port,
      defaultName: `calibrate@${hostname()}`.slice(0, 64),
      ...(o.secretFile ? { secretFile: o.secretFile } : {}),
      ...(o.join ? { join: o.join } : {}),
      stateDir: resolve(o.stateDir ?? defaultStateDir()),
      version: o.version,
      log: createLogger(o.verbose ? 'debug' : 'info'),
      ...(process.stdin.isTTY === true && process.stdout.isTTY === true ? { askCode: askJoinCode } : {}),
    });
  } catch (e) {
    throw new CalibrateError(`cannot reach the leader at ${o.ip}:${o.port}: ${(e as Error).message.replace(/^the leader says: /, 'leader says: ')}`);
  }
  const link = new LeaderLink({
    host: o.ip,
    port: o.port,
    name: membership.name,
    secret: membership.secret,
    version: o.version,
    log,
    role: 'calibrator',
    // A calibrator sends no status reports; LeaderLink only asks members for one.
    status: () => {
      throw new Error('a calibrator has no status');
    },
  });
  link.start();
  const deadline = monotonicMs() + JOIN_TIMEOUT_MS;
  while (!(link.isJoined && link.readyClock)) {
    // A refused connection or a refused handshake will not mend by itself: say so at once.
    if (monotonicMs() > deadline || (!link.isJoined && (link.lastError !== null || lastProblem() !== null))) {
      const why = link.lastError ?? lastProblem() ?? (link.isJoined ? 'no clock estimate (the leader answers too slowly)' : 'no answer');
      link.stop();
      throw new CalibrateError(`cannot reach the leader at ${o.ip}:${o.port}: ${why}`);
    }
    await sleep(50);
  }
  return link;
}

/** Which members to calibrate: every connected one, or exactly the ones named (all must be connected). */
export function selectMembers(all: readonly MemberSummary[], wanted: readonly string[]): MemberSummary[] {
  const connected = all.filter((m) => m.connected);
  const names = connected.map((m) => m.name).join(', ') || 'none';
  if (wanted.length === 0) {
    if (connected.length === 0) throw new CalibrateError('no members are connected to the leader: start `syncplay member` on the devices to calibrate first');
    return connected;
  }
  const out: MemberSummary[] = [];
  for (const name of new Set(wanted)) {
    const m = connected.find((c) => c.name === name);
    if (!m) {
      const known = all.some((c) => c.name === name);
      throw new CalibrateError(
        `member "${name}" is ${known ? 'not connected to the leader right now' : 'unknown to the leader'} (connected: ${names}): ` +
          `start \`syncplay member --name ${name} …\` on that device, or leave out --member ${name}`,
      );
    }
    out.push(m);
  }
  return out;
}

interface Scheduled {
  member: MemberSummary;
  round: number;
  /** shared instant the sweep is due */
  atShared: number;
  /** the same instant on this machine's clock, when it was scheduled */
  atLocal: number;
  /** refused by the leader (e.g. the member left) */
  error?: string;
}

export async function calibrateMembers(o: CalibrateOptions & { ip: string }, tool: CaptureTool, say: (m: string) => void): Promise<CalibrationReport> {
  const sweep: SweepSpec = { ...DEFAULT_SWEEP };
  const reference = renderSweep(sweep);
  const rate = sweep.sampleRate;
  const link = await joinLeader(o);
  let capture: Capture | null = null;
  const stopOnSignal = () => {
    void capture?.stop().catch(() => {});
    link.stop();
    process.exit(130);
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    say(`joined the leader at ${o.ip}:${o.port} (clock round trip ${link.readyClock!.rttMs.toFixed(2)} ms)`);
    const listed = await link.request({ type: 'list-members' });
    if (!listed.ok) throw new CalibrateError(`the leader refused to list its members: ${listed.error ?? 'no reason given'}`);
    const members = selectMembers(listed.members ?? [], o.member);
    if (members.some((m) => m.playerState === 'playing')) throw new CalibrateError(MUSIC_PLAYING_HINT);

    capture = new Capture({ tool, sampleRate: rate, ...(o.input ? { input: o.input } : {}) });
    try {
      await capture.start();
    } catch (e) {
      throw new CalibrateError(`cannot record${o.input ? ` from ${o.input}` : ''} with ${tool}: ${(e as Error).message}`);
    }
    say(`recording with ${tool}${o.input ? ` from ${o.input}` : ' from the default input'}; ${members.length} member${members.length === 1 ? '' : 's'} will play a ${sweep.durationSec} s sweep in turn: ${members.map((m) => m.name).join(', ')}`);

    // A recording's first moments are not representative (a sound server switching its buffering
    // for the new recorder, a microphone's automatic gain settling): start the schedule a little later.
    await sleep(CAPTURE_SETTLE_MS);
    const sweepMs = sweep.durationSec * 1000;
    // Members play their current offset early (like music): keep their sweeps apart by that too.
    const offsets = members.map((m) => m.latencyOffsetMs ?? 0);
    const spacing = sweepSpacingMs(sweepMs, o.windowMs) + (Math.max(...offsets) - Math.min(...offsets));
    // One mapping for every instant: only differences between members matter, so they must not
    // pick up the wander of this machine's clock estimate from one member to the next.
    const clock = link.readyClock!;
    const plan0 = scheduleSweeps(members.length, o.repeat, clock.toShared(monotonicMs()) + REQUEST_LEAD_MS + 300, spacing, REQUEST_LEAD_MS + sweepMs + 1000);
    const scheduled: Scheduled[] = [];
    for (const p of plan0) {
      const member = members[p.member]!;
      const atLocal = clock.toLocal(sharedMs(p.atMs));
      await sleep(atLocal - REQUEST_LEAD_MS - monotonicMs());
      const entry: Scheduled = { member, round: p.round, atShared: p.atMs, atLocal };
      scheduled.push(entry);
      let reply;
      try {
        reply = await link.request({ type: 'calibrate-play', member: member.name, at: p.atMs, signal: sweep });
      } catch (e) {
        throw new CalibrateError(`lost the leader while calibrating: ${(e as Error).message}`);
      }
      if (!reply.ok) {
        const error = reply.error ?? 'refused';
        if (/music is playing/i.test(error)) throw new CalibrateError(MUSIC_PLAYING_HINT);
        entry.error = `the leader did not have it play: ${error}`;
        say(`${member.name}: ${entry.error}`);
      } else {
        say(`${member.name} plays the sweep${o.repeat > 1 ? ` (${p.round + 1}/${o.repeat})` : ''} in ${((atLocal - monotonicMs()) / 1000).toFixed(1)} s`);
      }
    }
    const last = scheduled[scheduled.length - 1]!;
    await sleep(last.atLocal + Math.max(0, -Math.min(...offsets)) + sweepMs + o.windowMs + 600 - monotonicMs());
    const recorder = capture;
    capture = null;
    const recording = await recorder.stop();
    const arrivals = analyse(recording, reference, rate, scheduled, recorder, o);
    const measurements = members.map((m): MemberMeasurement & { snrDb: number; spreadMs: number; sweepsMs: (number | null)[] } => {
      const mine = scheduled.map((s, i) => ({ s, a: arrivals[i]! })).filter((x) => x.s.member === m);
      const combined = combineSweeps(mine.map((x) => x.a), o.maxSpreadMs);
      const snrs = mine.map((x) => x.a.snrDb).filter((v) => Number.isFinite(v));
      return {
        member: m.name,
        currentOffsetMs: m.latencyOffsetMs,
        arrivalMs: combined.ok ? combined.arrivalMs : NaN,
        confidenceDb: combined.confidenceDb,
        snrDb: snrs.length ? Math.min(...snrs) : NaN,
        spreadMs: combined.spreadMs,
        sweepsMs: mine.map((x) => (x.a.ok ? round3(x.a.arrivalMs) : null)),
        ok: combined.ok,
        ...(combined.reason ? { reason: combined.reason } : {}),
      };
    });
    const plan = planOffsets(measurements, { dryRun: o.dryRun ?? false });
    const results = await applyPlan(link, plan, measurements, o.dryRun ?? false);
    return {
      leader: `${o.ip}:${o.port}`,
      dryRun: o.dryRun ?? false,
      reference: plan.reference,
      captureTool: tool,
      input: o.input ?? null,
      capture: { measuredRate: recorder.measuredSampleRate === null ? null : Math.round(recorder.measuredSampleRate * 1000) / 1000, seconds: Math.round((recording.length / rate) * 1000) / 1000 },
      members: results,
      ok: results.every((r) => r.status !== 'refused'),
    };
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    if (capture) await capture.stop().catch(() => {});
    link.stop();
  }
}

/** Sample index (fractional) of local monotonic instant `localMs` in the capture's recording. */
function localToSample(capture: Capture, localMs: number): number {
  const t0 = capture.localMsAtSample(0);
  const t1 = capture.localMsAtSample(1);
  if (t0 === null || t1 === null) throw new CalibrateError('the recording has no timing (no audio arrived)');
  return (localMs - t0) / (t1 - t0);
}

/** Finds each sweep in its own window of the one recording. */
function analyse(
  recording: Float32Array,
  reference: Float32Array,
  rate: number,
  scheduled: readonly Scheduled[],
  capture: Capture,
  o: Pick<CalibrateOptions, 'windowMs' | 'minConfidence'>,
): (SweepArrival & { snrDb: number })[] {
  const msPerSample = (capture.localMsAtSample(1) ?? 0) - (capture.localMsAtSample(0) ?? 0) || 1000 / rate;
  const window = (o.windowMs / 1000) * rate;
  const found = scheduled.map((s): SweepArrival & { snrDb: number } => {
    if (s.error) return { arrivalMs: NaN, confidenceDb: NaN, snrDb: NaN, ok: false, reason: s.error };
    const due = localToSample(capture, s.atLocal);
    // The member starts its current offset early, like music: centre the window where it will play.
    const expected = due - (s.member.latencyOffsetMs ?? 0) / msPerSample;
    const a = findArrival(recording, reference, rate, {
      searchFromSample: expected - window,
      searchToSample: expected + window,
      minConfidence: o.minConfidence,
    });
    return {
      arrivalMs: a.ok ? (a.delaySamples - due) * msPerSample : NaN,
      confidenceDb: a.confidence,
      snrDb: a.snrDb,
      ok: a.ok,
      ...(a.ok ? {} : { reason: a.reason ?? 'not found', ...(a.refusal ? { refusal: a.refusal } : {}) }),
    };
  });
  // Silence where one member should be while others were heard in the same recording: the
  // microphone works, this member made no sound.
  if (found.some((f) => f.ok)) {
    for (const f of found) {
      if (f.refusal === 'silence') {
        f.reason = 'the test signal was not heard (its part of the recording is silent while other members were heard): is this member muted, its volume at 0, or its speaker off?';
        f.refusal = 'not-heard';
      }
    }
  }
  return found;
}

/** Stores the trusted new offsets through the leader (unless a dry run) and builds the report rows. */
async function applyPlan(link: LeaderLink, plan: OffsetPlan, measurements: readonly (MemberMeasurement & { snrDb: number; spreadMs: number; sweepsMs: (number | null)[] })[], dryRun: boolean): Promise<MemberResult[]> {
  const out: MemberResult[] = [];
  for (const [i, e] of plan.entries.entries()) {
    const snr = measurements[i]?.snrDb;
    const row: MemberResult = {
      member: e.member,
      status: e.status === 'apply' ? 'applied' : e.status,
      arrivalMs: Number.isFinite(e.relativeArrivalMs) ? round3(e.relativeArrivalMs) : null,
      confidenceDb: Number.isFinite(e.confidenceDb) ? round3(e.confidenceDb) : null,
      snrDb: snr !== undefined && Number.isFinite(snr) ? round3(snr) : null,
      rawArrivalMs: measurements[i] && Number.isFinite(measurements[i]!.arrivalMs) ? round3(measurements[i]!.arrivalMs) : null,
      spreadMs: measurements[i] && Number.isFinite(measurements[i]!.spreadMs) ? round3(measurements[i]!.spreadMs) : null,
      sweepsMs: measurements[i]?.sweepsMs ?? [],
      currentOffsetMs: e.currentOffsetMs,
      newOffsetMs: e.newOffsetMs,
      changeMs: e.changeMs,
      reference: e.reference,
      ...(e.reason ? { reason: e.reason } : {}),
    };
    if (e.status === 'apply' && !dryRun) {
      try {
        const reply = await link.request({ type: 'set-offset', member: e.member, latencyOffsetMs: e.newOffsetMs });
        if (!reply.ok) Object.assign(row, { status: 'refused', reason: `measured, but the leader did not store the offset: ${reply.error ?? 'refused'}` });
      } catch (err) {
        Object.assign(row, { status: 'refused', reason: `measured, but the offset could not be stored: ${(err as Error).message}` });
      }
    }
    out.push(row);
  }
  return out;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

const fmtMs = (v: number | null, signed = false) => (v === null ? '—' : `${signed && v >= 0 ? '+' : ''}${v.toFixed(2)}`);

/** The human-readable report. */
export function formatReport(r: CalibrationReport): string {
  const lines: string[] = [];
  const width = Math.max(6, ...r.members.map((m) => m.member.length));
  lines.push(`${'member'.padEnd(width)}  ${'arrival'.padStart(9)}  ${'confidence'.padStart(10)}  latency offset (ms)`);
  for (const m of r.members) {
    const head = `${m.member.padEnd(width)}  `;
    if (m.status === 'refused' && m.newOffsetMs === null) {
      lines.push(`${head}${'—'.padStart(9)}  ${(m.confidenceDb === null ? '—' : `${m.confidenceDb.toFixed(1)} dB`).padStart(10)}  not measured: ${m.reason ?? 'no reason given'}`);
      continue;
    }
    const arrival = `${fmtMs(m.arrivalMs, true)} ms`;
    const conf = `${m.confidenceDb?.toFixed(1) ?? '—'} dB`;
    const change = `${fmtMs(m.currentOffsetMs)} → ${fmtMs(m.newOffsetMs)} (${fmtMs(m.changeMs, true)})`;
    const note = m.status === 'refused' ? `  NOT STORED: ${m.reason ?? ''}` : m.status === 'measured' ? '  (dry run: not stored)' : '  stored';
    const spread = m.spreadMs !== null && m.spreadMs > 0 ? `  (sweeps within ${m.spreadMs.toFixed(2)} ms)` : '';
    lines.push(`${head}${arrival.padStart(9)}  ${conf.padStart(10)}  ${change}${m.reference ? '  [reference]' : ''}${note}${spread}`);
  }
  lines.push('');
  lines.push('arrival: how much later than the earliest member each one is heard now (at the microphone).');
  if (r.reference === null) lines.push('No member could be measured: nothing was changed.');
  else if (r.dryRun) lines.push('Dry run: offsets measured, nothing stored. Run again without --dry-run to store them.');
  else lines.push(`Stored on the leader (remembered by member name; \`syncplay ctl offset NAME clear\` undoes one).`);
  if (!r.ok) lines.push('Some members could not be measured: fix what their line says and run calibrate again.');
  return escapeLines(lines.join('\n'));
}
