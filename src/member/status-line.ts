/**
 * The member's one-line status on a terminal: connected or lost, clock offset, sync error,
 * speed and the track, redrawn in place about twice a second. Log lines are written above it
 * (the status line is cleared, the log line written, the status line drawn again).
 */
import chalk from 'chalk';
import type { Track } from '../protocol/index.js';
import { fetchText } from './fetch/progress-text.js';
import type { Member } from './member.js';

/** A piece of the line and how to colour it. */
export type Segment = [text: string, style?: (s: string) => string];

/** What the status line shows. */
export interface MemberStatusView {
  connected: boolean;
  clockOffsetMs: number | null;
  rttMs: number | null;
  errorMs: number | null;
  speed: number | null;
  playerState: string;
  fileStatus: string;
  trackIndex: number | null;
  trackCount: number;
  title: string | null;
  volume: number | null;
  muted: boolean | null;
  /** "fetching track 3: 45% …" while files come from the leader */
  fetch?: string | null;
  /** files checked against the leader's hashes, of the playlist's tracks (optional: 0 of 0) */
  filesChecked?: number;
  filesTotal?: number;
}

const msText = (v: number | null, signed = true): string => {
  if (v === null || !Number.isFinite(v)) return '—';
  const sign = signed && v >= 0 ? '+' : '';
  const a = Math.abs(v);
  if (a < 10) return `${sign}${v.toFixed(3)}`;
  if (a < 1000) return `${sign}${v.toFixed(1)}`;
  if (a < 100_000) return `${sign}${v.toFixed(0)}`;
  return `${sign}${(v / 1000).toFixed(0)} s`.replace(/ s$/, 's');
};

/** green in sync, yellow correcting (or loading / armed), red lost or silent, grey idle. */
export function memberStatusColor(v: MemberStatusView): 'green' | 'yellow' | 'red' | 'gray' {
  if (!v.connected) return 'red';
  if (v.playerState === 'silent' || v.playerState === 'down') return 'red';
  if (v.fileStatus === 'missing' || v.fileStatus === 'different' || v.fileStatus === 'refused') return 'red';
  if (v.playerState === 'loading' || v.playerState === 'armed') return 'yellow';
  if (v.playerState === 'playing') {
    const speedOff = v.speed !== null && Math.abs(v.speed - 1) > 100e-6;
    return v.errorMs !== null && Math.abs(v.errorMs) < 1 && !speedOff ? 'green' : 'yellow';
  }
  return 'gray';
}

export function memberStatusSegments(v: MemberStatusView): Segment[] {
  const color = memberStatusColor(v);
  const paint = chalk[color];
  const segs: Segment[] = [
    ['● ', paint],
    [v.connected ? 'connected' : 'LOST', v.connected ? chalk.green : chalk.red.bold],
    ['  clock ', chalk.dim],
    [v.clockOffsetMs === null ? '—' : `${msText(v.clockOffsetMs)} ms`],
  ];
  segs.push(['  error ', chalk.dim], [v.errorMs === null ? '—' : `${msText(v.errorMs)} ms`, v.errorMs === null ? undefined : Math.abs(v.errorMs) < 1 ? chalk.green : chalk.yellow]);
  segs.push(['  speed ', chalk.dim], [v.speed === null ? '—' : v.speed.toFixed(5), v.speed !== null && Math.abs(v.speed - 1) > 100e-6 ? chalk.yellow : undefined]);
  const stateColor = v.playerState === 'silent' || v.playerState === 'down' ? chalk.red : v.playerState === 'playing' ? paint : v.playerState === 'loading' || v.playerState === 'armed' ? chalk.yellow : chalk.dim;
  segs.push(['  ', undefined], [v.playerState, stateColor]);
  // Mute and volume before the title: a long title is what gets cut.
  if (v.filesTotal !== undefined && v.filesChecked !== undefined && v.filesChecked < v.filesTotal) {
    segs.push([`  checked ${v.filesChecked.toLocaleString('en')}/${v.filesTotal.toLocaleString('en')}`, chalk.yellow]);
  }
  if (v.muted) segs.push(['  muted', chalk.magenta]);
  else if (v.volume !== null && v.volume !== 100) segs.push([`  vol ${v.volume}`, chalk.dim]);
  if (v.fetch) segs.push([`  ${v.fetch}`, chalk.cyan]);
  if (v.trackIndex !== null) {
    segs.push([`  ${v.trackIndex + 1}/${v.trackCount} `, chalk.dim]);
    segs.push([v.title ?? '?', chalk.bold]);
  }
  return segs;
}

/** Joins segments into at most `width` visible characters (… when cut), with their colours. */
export function renderSegments(segs: Segment[], width: number): string {
  const total = segs.reduce((n, [text]) => n + [...text].length, 0);
  const cut = total > width;
  let room = Math.max(0, cut ? width - 1 : width);
  let out = '';
  for (const [text, style] of segs) {
    const chars = [...text];
    const piece = chars.length > room ? chars.slice(0, room).join('') + (cut ? '…' : '') : text;
    if (piece) out += style ? style(piece) : piece;
    if (chars.length > room) break;
    room -= chars.length;
  }
  return out;
}

export class StatusLine {
  private shown = false;
  private timer: NodeJS.Timeout | null = null;
  private render: () => Segment[] = () => [];

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly logOut: { write(s: string): unknown } = process.stderr,
  ) {}

  /** A createLogger() sink: the log line appears above the status line. */
  readonly log = (line: string): void => {
    const was = this.shown;
    this.clear();
    this.logOut.write(line + '\n');
    if (was) this.draw();
  };

  start(render: () => Segment[], intervalMs = 500): void {
    this.render = render;
    this.draw();
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  /** Removes the status line and stops redrawing it. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  private draw(): void {
    let text: string;
    try {
      text = renderSegments(this.render(), (this.out.columns || 80) - 1);
    } catch (e) {
      text = `status unavailable: ${(e as Error).message}`;
    }
    this.out.write('\r\x1b[2K' + text);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}

/** What `member` looks like right now, for the status line. */
export function memberStatusView(member: Member, tracks: readonly (Track | undefined)[]): MemberStatusView {
  const sync = member.sync.status();
  const clock = member.link.readyClock;
  const files = member.files.summary();
  const index = sync.trackIndex;
  const track = index === null ? undefined : tracks[index];
  return {
    connected: member.link.isJoined,
    clockOffsetMs: clock ? clock.offsetMs : null,
    rttMs: clock ? clock.rttMs : null,
    errorMs: sync.errorMs,
    speed: sync.speed,
    playerState: sync.playerState,
    fileStatus: files.status,
    trackIndex: index,
    trackCount: tracks.length,
    title: track ? track.title || track.path : null,
    volume: sync.volume,
    muted: sync.muted,
    fetch: fetchText(member.fetcher?.progress()),
    filesChecked: member.files.checked,
    filesTotal: member.files.total,
  };
}

/** Shows `member`'s status on `line` until line.stop(). */
export function followMember(line: StatusLine, member: Member, intervalMs = 500): void {
  line.start(() => memberStatusSegments(memberStatusView(member, member.tracks)), intervalMs);
}
