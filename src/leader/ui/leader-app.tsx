/**
 * The leader's terminal UI. <LeaderApp> is pure: it draws a LeaderStatus and the last log lines,
 * and turns key presses into ControlRequests passed to `onAction` (ControlServer.handle in the
 * real program, so the UI and `syncplay ctl` share one code path). <LiveLeaderApp> reads a
 * source (the leader) when what it shows can have changed (refresh.ts) and feeds <LeaderApp>.
 *
 * Drawing costs CPU on a Pi that also plays, so a frame is kept cheap: the playlist pane draws
 * only the rows around the current track (whatever the playlist's length), the frame is kept
 * one row shorter than the terminal (so Ink rewrites only the lines that changed instead of
 * clearing the screen), and the parts that rarely change (playlist, key hints) are memoised.
 */
import { escapeText } from '../../log/escape.js';
import { Box, Text, useInput, useStdout, type Key } from 'ink';
import { memo, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { qrLines } from './qr.js';
import { nextTrackIndex } from '../../protocol/index.js';
import type { ControlRequest } from '../control-server.js';
import type { LeaderStatus, MemberView } from '../leader.js';
import { clock, fileIsBad, fit, HEALTH_COLOR, hostOf, memberHealth, ms, progressBar, speedIsOff, speedText, wallClock, windowAround } from './format.js';
import { ALL_MEMBERS, isPlaying, KEY_HELP, keyIntent } from './keys.js';
import { fetchCell, fetchText } from '../../member/fetch/progress-text.js';
import { formatSeconds, type ProgressView } from '../../playlist/progress.js';
import type { Track } from '../../protocol/index.js';
import { nextRefreshMs } from './refresh.js';

export interface LeaderAppProps {
  status: LeaderStatus;
  /** recent log lines, oldest first */
  logs?: readonly string[];
  /** performs a request and returns the reply ({ ok, error?, description? }) or a promise of it */
  onAction: (request: ControlRequest) => unknown;
  /** the user asked to quit (q then y, or Ctrl+C) */
  onQuit: () => void;
  /** columns to draw in (default: the terminal's, at most 160) */
  width?: number;
  /** rows available (default: the terminal's) */
  height?: number;
  /** how long a message about an action stays, ms */
  flashMs?: number;
}

type Flash = { kind: 'ok' | 'error' | 'info'; text: string; id: number };

const PLAYLIST_ROWS = 5;

export function LeaderApp(props: LeaderAppProps): ReactNode {
  const { status, logs = [], onAction, onQuit, flashMs = 4000 } = props;
  const { stdout } = useStdout();
  const width = Math.max(60, Math.min(160, props.width ?? (stdout.columns || 100)));
  const height = Math.max(20, props.height ?? (stdout.rows || 40));

  const [selectedName, setSelectedName] = useState<string>(ALL_MEMBERS);
  const [help, setHelp] = useState(false);
  const [remote, setRemote] = useState(false);
  const [confirmQuit, setConfirmQuit] = useState(false);
  const [flash, setFlash] = useState<Flash | null>(null);
  const flashId = useRef(0);

  // The selection follows the member's name; if it goes away, back to "all members".
  const members = status.members;
  const selected = selectedName !== ALL_MEMBERS && members.some((m) => m.name === selectedName) ? selectedName : ALL_MEMBERS;

  useEffect(() => {
    if (!flash) return;
    const t = setTimeout(() => setFlash((f) => (f?.id === flash.id ? null : f)), flashMs);
    return () => clearTimeout(t);
  }, [flash, flashMs]);

  const show = useCallback((kind: Flash['kind'], text: string) => setFlash({ kind, text, id: ++flashId.current }), []);

  const perform = useCallback(
    (request: ControlRequest) => {
      const report = (reply: unknown): void => {
        const r = (reply ?? {}) as { ok?: boolean; error?: unknown; description?: unknown };
        if (r.ok === false) show('error', String(r.error ?? 'refused'));
        else show('ok', typeof r.description === 'string' ? r.description.split('\n').join(' · ') : request.cmd);
      };
      try {
        const reply = onAction(request);
        if (reply && typeof (reply as Promise<unknown>).then === 'function') {
          (reply as Promise<unknown>).then(report, (e: unknown) => show('error', (e as Error).message ?? String(e)));
        } else report(reply);
      } catch (e) {
        show('error', (e as Error).message ?? String(e));
      }
    },
    [onAction, show],
  );

  // The latest view of the interaction, for key presses that arrive several in one chunk.
  const live = useRef({ help, remote, confirmQuit, selected, status });
  live.current = { help, remote, confirmQuit, selected, status };

  const press = (input: string, key: Partial<Key>): void => {
    const now = live.current;
    if (key.ctrl && input === 'c') return onQuit();
    if (now.help) {
      now.help = false;
      return setHelp(false);
    }
    if (now.remote) {
      now.remote = false;
      return setRemote(false);
    }
    if (now.confirmQuit) {
      now.confirmQuit = false;
      setConfirmQuit(false);
      if (input === 'y' || input === 'Y') onQuit();
      else show('info', 'still running');
      return;
    }
    const intent = keyIntent(input, key, now.status, now.selected);
    switch (intent.kind) {
      case 'request':
        return perform(intent.request);
      case 'select': {
        const names = [ALL_MEMBERS, ...now.status.members.map((m) => m.name)];
        const i = Math.max(0, Math.min(names.length - 1, names.indexOf(now.selected) + intent.delta));
        now.selected = names[i] ?? ALL_MEMBERS;
        return setSelectedName(now.selected);
      }
      case 'quit':
        if (isPlaying(now.status)) {
          now.confirmQuit = true;
          return setConfirmQuit(true);
        }
        return onQuit();
      case 'help':
        now.help = true;
        return setHelp(true);
      case 'remote':
        if (!now.status.web) return show('info', 'the web remote is off (started with --no-web)');
        now.remote = true;
        return setRemote(true);
      default:
        return;
    }
  };

  useInput((input, key) => {
    // Keys typed quickly can arrive as one chunk ("ny"): take plain characters one by one.
    const plain = input.length > 1 && !key.ctrl && !key.meta && !input.includes('\x1b');
    if (plain) for (const ch of input) press(ch, {});
    else press(input, key);
  });

  // Rows: header 1, now playing 7, scan 3 (while it runs), members 5 + k, log 2 + L, message 1,
  // key hints h; one row spare, so that the frame never fills the terminal (Ink then clears the
  // whole screen on every frame instead of rewriting the lines that changed).
  const scanning = status.scan !== null && status.scan !== undefined && status.scan.phase !== 'done';
  const hints = useMemo(() => hintLines(width), [width]);
  const fixed = 1 + 7 + (scanning ? 3 : 0) + 5 + 2 + 1 + hints.length + 1;
  const memberRows = Math.max(1, Math.min(members.length, height - fixed - 2));
  const logRows = Math.max(2, Math.min(8, height - fixed - memberRows));

  return (
    <Box flexDirection="column" width={width}>
      <Header status={status} width={width} />
      {scanning && status.scan ? <ScanPanel scan={status.scan} width={width} /> : null}
      {help ? (
        <HelpPanel width={width} />
      ) : remote && status.web ? (
        <RemotePanel url={status.web.url} width={width} />
      ) : (
        <>
          <Box marginTop={1}>
            <NowPlaying status={status} width={width - playlistWidth(width) - 2} />
            <Box width={2} />
            <Playlist tracks={status.tracks} current={status.playhead.state === 'ended' ? status.tracks.length - 1 : status.playhead.trackIndex} ended={status.playhead.state === 'ended'} scanning={scanning} width={playlistWidth(width)} />
          </Box>
          <Members status={status} selected={selected} width={width} maxRows={memberRows} />
          <LogPane lines={logs} rows={logRows} width={width} />
        </>
      )}
      <MessageLine flash={flash} confirmQuit={confirmQuit} width={width} />
      <KeyHints lines={hints} />
    </Box>
  );
}

function playlistWidth(width: number): number {
  return Math.max(30, Math.min(56, Math.floor(width * 0.42)));
}

function Rule({ title, width, right }: { title: string; width: number; right?: string }): ReactNode {
  const head = `── ${title} `;
  const tail = right ? ` ${right} ──` : '';
  const fill = Math.max(0, width - [...head].length - [...tail].length);
  return (
    <Text wrap="truncate-end">
      <Text dimColor>── </Text>
      <Text bold>{title}</Text>
      <Text dimColor>{' ' + '─'.repeat(fill)}</Text>
      {right ? (
        <>
          <Text dimColor> </Text>
          <Text>{right}</Text>
          <Text dimColor> ──</Text>
        </>
      ) : null}
    </Text>
  );
}

function Header({ status, width }: { status: LeaderStatus; width: number }): ReactNode {
  const connected = status.members.filter((m) => m.connected).length;
  const lost = status.members.length - connected;
  const left = `syncplay leader`;
  const where = `  ${status.listening.host}:${status.listening.port}`;
  const who = `  ${connected} member${connected === 1 ? '' : 's'}${lost ? `, ${lost} lost` : ''}`;
  // The join code a new member pairs with (syncplay member --join CODE), or a warning for an open party.
  const pairing = status.party?.pairing;
  const join = status.party ? (status.party.open ? '  OPEN party' : pairing ? `  join code ${pairing.code}` : '') : '';
  const right = status.web ? 'w remote  ? help' : '? help';
  const pad = Math.max(1, width - left.length - where.length - who.length - join.length - right.length);
  return (
    <Text wrap="truncate-end">
      <Text bold color="cyan">
        {left}
      </Text>
      <Text dimColor>{where}</Text>
      <Text color={lost ? 'red' : undefined}>{who}</Text>
      <Text color={status.party?.open ? 'yellow' : 'cyan'}>{join}</Text>
      <Text>{' '.repeat(pad)}</Text>
      <Text dimColor>{right}</Text>
    </Text>
  );
}

const STATE_BADGE: Record<LeaderStatus['playhead']['state'], { text: string; color: string }> = {
  playing: { text: '▶ PLAYING', color: 'green' },
  pending: { text: '▶ STARTING', color: 'yellow' },
  paused: { text: '❚❚ PAUSED', color: 'yellow' },
  stopped: { text: '■ STOPPED', color: 'gray' },
  ended: { text: '■ ENDED', color: 'gray' },
};

function NowPlaying({ status, width }: { status: LeaderStatus; width: number }): ReactNode {
  const p = status.playhead;
  const track = status.track;
  const badge = STATE_BADGE[p.state];
  const count = status.tracks.length;
  const title = track ? track.title || track.path : p.state === 'ended' ? 'end of playlist' : 'no track';
  const at = track ? `${p.trackIndex + 1}/${count}` : '';
  const pos = track ? clock(p.positionSec) : '0:00';
  const dur = track ? clock(track.durationSec) : '0:00';
  const bar = progressBar(track && track.durationSec > 0 ? p.positionSec / track.durationSec : 0, width - pos.length - dur.length - 2);
  const nextIndex = track ? nextTrackIndex(status.repeat, p.trackIndex, count) : null;
  const next = nextIndex === null ? null : status.tracks[nextIndex];
  const headWidth = width - badge.text.length - 2;
  const schedule: string[] = [];
  if (status.schedule.nextStart) schedule.push(`start ${wallClock(status.schedule.nextStart)}`);
  if (status.schedule.nextStop) schedule.push(`stop ${wallClock(status.schedule.nextStop)}`);
  return (
    <Box flexDirection="column" width={width}>
      <Rule title="Now playing" width={width} right={at} />
      <Text wrap="truncate-end">
        <Text bold color={badge.color}>
          {badge.text}
        </Text>
        <Text>{'  '}</Text>
        <Text bold>{fit(title, headWidth, false)}</Text>
      </Text>
      <Text wrap="truncate-end" dimColor>
        {track?.artist ? `${' '.repeat(badge.text.length + 2)}by ${track.artist}` : ' '}
      </Text>
      <Text wrap="truncate-end">
        <Text>{pos} </Text>
        <Text color={p.state === 'playing' ? 'green' : p.state === 'paused' || p.state === 'pending' ? 'yellow' : 'gray'}>{bar.done}</Text>
        <Text dimColor>{bar.rest}</Text>
        <Text> {dur}</Text>
      </Text>
      <Text wrap="truncate-end">
        <Text dimColor>next </Text>
        <Text>{next && nextIndex !== null ? `${nextIndex + 1}. ${next.title || next.path}` : '— end of playlist'}</Text>
      </Text>
      <Text wrap="truncate-end">
        <Text dimColor>repeat </Text>
        <Text color={status.repeat === 'off' ? undefined : 'cyan'}>{status.repeat}</Text>
        {schedule.length ? (
          <>
            <Text dimColor>{'   schedule '}</Text>
            <Text color="magenta">{schedule.join(', ')}</Text>
          </>
        ) : null}
      </Text>
    </Box>
  );
}

/** The music dir scan while it runs: files done of the total, the rate, what the cache served, the time left. */
function ScanPanel({ scan, width }: { scan: ProgressView; width: number }): ReactNode {
  const n = (v: number): string => Math.round(v).toLocaleString('en');
  const elapsed = `${Math.floor(scan.elapsedSec)} s`;
  if (scan.phase === 'listing') {
    return (
      <Box flexDirection="column" marginTop={1} width={width}>
        <Rule title="Scan" width={width} right={elapsed} />
        <Text wrap="truncate-end">
          <Text color="yellow">listing </Text>
          <Text>{`the music dir: ${n(scan.total)} files found so far`}</Text>
        </Text>
      </Box>
    );
  }
  const counts = `${n(scan.done)}/${n(scan.total)} files `;
  const tail = [`${n(scan.ratePerSec)}/s`, ...(scan.cached > 0 ? [`${n(scan.cached)} cached`] : []), scan.etaSec === null ? 'time left unknown' : `about ${formatSeconds(scan.etaSec)} left`].join(' · ');
  const head = `${scan.phase} `;
  const bar = progressBar(scan.total > 0 ? scan.done / scan.total : 0, Math.max(10, width - head.length - counts.length - tail.length - 2));
  return (
    <Box flexDirection="column" marginTop={1} width={width}>
      <Rule title="Scan" width={width} right={elapsed} />
      <Text wrap="truncate-end">
        <Text color="yellow">{head}</Text>
        <Text bold>{counts}</Text>
        <Text color="yellow">{bar.done}</Text>
        <Text dimColor>{bar.rest}</Text>
        <Text>{'  ' + tail}</Text>
      </Text>
    </Box>
  );
}

interface PlaylistProps {
  tracks: readonly Track[];
  /** the index marked as playing (the last one at the end) */
  current: number;
  ended: boolean;
  /** the music dir is still being scanned (an empty playlist is not final) */
  scanning: boolean;
  width: number;
}

/** A window of PLAYLIST_ROWS rows around the current track: the cost does not grow with the playlist. */
const Playlist = memo(function Playlist({ tracks, current, ended, scanning, width }: PlaylistProps): ReactNode {
  const count = tracks.length;
  const { start, end } = windowAround(current, count, PLAYLIST_ROWS);
  const digits = String(count).length;
  const lines: ReactNode[] = [];
  for (let i = start; i < end; i++) {
    const t = tracks[i]!;
    const here = i === current && !ended;
    const dur = clock(t.durationSec);
    const label = t.title || t.path;
    const titleWidth = width - 2 - digits - 1 - dur.length - 1;
    lines.push(
      <Text key={i} wrap="truncate-end">
        <Text color="green">{here ? '▶ ' : '  '}</Text>
        <Text dimColor={!here}>{String(i + 1).padStart(digits)} </Text>
        <Text bold={here}>{fit(label, titleWidth)}</Text>
        <Text dimColor> {dur}</Text>
      </Text>,
    );
  }
  if (count === 0) lines.push(<Text key="empty" dimColor>{scanning ? 'the music dir is being scanned…' : 'the playlist is empty'}</Text>);
  while (lines.length < PLAYLIST_ROWS) lines.push(<Text key={`pad${lines.length}`}> </Text>);
  const more = [start > 0 ? `↑${start}` : '', end < count ? `↓${count - end}` : ''].filter(Boolean).join(' ');
  return (
    <Box flexDirection="column" width={width}>
      <Rule title="Playlist" width={width} right={more || `${count} track${count === 1 ? '' : 's'}`} />
      {lines}
    </Box>
  );
});

/**
 * Column widths of the member table; the name takes what is left. Wide terminals show the whole
 * address (host:port); narrow ones drop it (the line under the table still has it).
 */
function memberColumns(width: number) {
  const fixed = { sel: 3, state: 7, offset: 8, rtt: 6, error: 8, speed: 7, files: 9, vol: 5, lat: 5 };
  const used = Object.values(fixed).reduce((a, b) => a + b, 0) + 8;
  const host = width - used >= 24 + 1 + 22 ? 22 : width - used >= 10 + 1 + 15 ? 15 : 0;
  const name = Math.max(8, Math.min(24, width - used - (host ? host + 1 : 0)));
  return { ...fixed, host, name, fullAddress: host > 15 };
}

function Members({ status, selected, width, maxRows }: { status: LeaderStatus; selected: string; width: number; maxRows: number }): ReactNode {
  const c = memberColumns(width);
  const members = status.members;
  const selIndex = members.findIndex((m) => m.name === selected);
  const { start, end } = windowAround(Math.max(0, selIndex), members.length, maxRows);
  const header = [
    fit('', c.sel) + fit('member', c.name),
    ...(c.host ? [fit('address', c.host)] : []),
    fit('state', c.state),
    fit('offset', c.offset, true, true),
    fit('rtt', c.rtt, true, true),
    fit('error', c.error, true, true),
    fit('speed', c.speed, true, true),
    fit('files', c.files),
    fit('vol', c.vol, true, true),
    fit('lat', c.lat, true, true),
  ].join(' ');
  const allSelected = selected === ALL_MEMBERS;
  const connected = members.filter((m) => m.connected).length;
  const sel = members[selIndex];
  const more = [start > 0 ? `↑${start}` : '', end < members.length ? `↓${members.length - end}` : ''].filter(Boolean).join(' ');
  return (
    <Box flexDirection="column" marginTop={1}>
      <Rule title="Members" width={width} right={more ? `${more}  ·  times in ms` : 'times in ms'} />
      <Text dimColor wrap="truncate-end">
        {header}
      </Text>
      <Text wrap="truncate-end">
        <Text color="cyan">{allSelected ? '›◆ ' : ' ◆ '}</Text>
        <Text bold={allSelected} color={allSelected ? 'cyan' : undefined}>
          {`all members (${connected})`}
        </Text>
      </Text>
      {members.length === 0 ? (
        <Text dimColor>{'   no members yet: syncplay member --ip <this host> --port ' + status.listening.port + ' --music-dir <dir>'}</Text>
      ) : (
        members.slice(start, end).map((m) => <MemberRow key={`${m.id}:${m.name}`} m={m} selected={m.name === selected} c={c} />)
      )}
      <Text dimColor wrap="truncate-end">
        {sel ? memberDetail(sel) : '   volume, mute and latency keys act on every member; ↓ selects one'}
      </Text>
    </Box>
  );
}

function memberDetail(m: MemberView): string {
  const parts = [`${escapeText(m.name)} at ${m.address}`];
  if (m.fileProblems.length) {
    const shown = m.fileProblems.slice(0, 4).map((p) => `#${p.index + 1} ${p.status}`);
    parts.push(`files: ${shown.join(', ')}${m.fileProblems.length > 4 ? ` +${m.fileProblems.length - 4}` : ''}`);
  }
  const fetching = fetchText(m.fetch);
  if (fetching) parts.push(fetching);
  if (m.trackIndex !== null) parts.push(`track ${m.trackIndex + 1}`);
  parts.push(`hard seeks ${m.hardSeeks}`);
  if (m.clockSkewPpm !== null) parts.push(`skew ${m.clockSkewPpm >= 0 ? '+' : ''}${m.clockSkewPpm.toFixed(1)} ppm`);
  if (m.statusAgeMs !== null && m.connected) parts.push(`status ${(m.statusAgeMs / 1000).toFixed(1)} s ago`);
  return '   ' + parts.join(' · ');
}

function MemberRow({ m, selected, c }: { m: MemberView; selected: boolean; c: ReturnType<typeof memberColumns> }): ReactNode {
  const health = memberHealth(m);
  const stateText = !m.connected ? 'LOST' : m.playerState === 'unknown' ? '—' : m.playerState;
  const stateColor = !m.connected || m.playerState === 'silent' || m.playerState === 'down' ? 'red' : m.playerState === 'playing' ? HEALTH_COLOR[health] : m.playerState === 'loading' || m.playerState === 'armed' ? 'yellow' : undefined;
  const playing = m.connected && m.playerState === 'playing';
  const errorColor = m.errorMs === null || !playing ? undefined : Math.abs(m.errorMs) < 1 ? 'green' : 'yellow';
  const filesColor = m.fileStatus === 'ok' ? 'green' : fileIsBad(m.fileStatus) ? 'red' : 'gray';
  const arriving = fetchCell(m.fetch);
  const files = arriving ? arriving : fileIsBad(m.fileStatus) && m.fileProblems.length > 1 ? `${m.fileStatus.slice(0, c.files - 3)}×${Math.min(m.fileProblems.length, 99)}` : m.fileStatus;
  return (
    <Text wrap="truncate-end">
      <Text color="cyan">{selected ? '›' : ' '}</Text>
      <Text color={HEALTH_COLOR[health]}>{'● '}</Text>
      <Text bold={selected} color={selected ? 'cyan' : !m.connected ? 'red' : undefined}>
        {fit(m.name, c.name)}
      </Text>
      <Text dimColor> {c.host ? `${fit(c.fullAddress ? m.address.replace(/^::ffff:/, '') : hostOf(m.address), c.host)} ` : ''}</Text>
      <Text color={stateColor} bold={!m.connected}>
        {fit(stateText, c.state)}
      </Text>
      <Text dimColor={!m.connected}> {fit(ms(m.clockOffsetMs, true), c.offset, true, true)}</Text>
      <Text dimColor={!m.connected}> {fit(ms(m.rttMs), c.rtt, true, true)}</Text>
      <Text color={errorColor}> {fit(ms(m.errorMs, true), c.error, true, true)}</Text>
      <Text color={speedIsOff(m.speed) ? 'yellow' : undefined}> {fit(speedText(m.speed), c.speed, true, true)}</Text>
      <Text color={filesColor}> {fit(files, c.files)}</Text>
      <Text color={m.muted ? 'magenta' : undefined}> {fit(m.muted ? 'muted' : String(m.volume), c.vol, true, true)}</Text>
      <Text> {fit(m.latencyOffsetMs === null ? '—' : `${m.latencyOffsetMs > 0 ? '+' : ''}${Math.round(m.latencyOffsetMs * 10) / 10}`, c.lat, true, true)}</Text>
    </Text>
  );
}

const LogPane = memo(function LogPane({ lines, rows, width }: { lines: readonly string[]; rows: number; width: number }): ReactNode {
  const shown = lines.slice(-rows);
  const pad = rows - shown.length;
  return (
    <Box flexDirection="column" marginTop={1}>
      <Rule title="Log" width={width} />
      {shown.map((l, i) => (
        <Text key={i} wrap="truncate-end" color={/ ERROR /.test(l) ? 'red' : / WARN /.test(l) ? 'yellow' : undefined} dimColor={!/ (ERROR|WARN) /.test(l)}>
          {l}
        </Text>
      ))}
      {Array.from({ length: pad }, (_, i) => (
        <Text key={`pad${i}`}> </Text>
      ))}
    </Box>
  );
});

function MessageLine({ flash, confirmQuit, width }: { flash: Flash | null; confirmQuit: boolean; width: number }): ReactNode {
  if (confirmQuit) {
    return (
      <Text wrap="truncate-end" color="yellow" bold>
        {fit('Playback is running. Quit and stop the leader? (y/n)', width, false)}
      </Text>
    );
  }
  if (!flash) return <Text> </Text>;
  const mark = flash.kind === 'error' ? '✗ ' : flash.kind === 'ok' ? '✓ ' : '· ';
  const color = flash.kind === 'error' ? 'red' : flash.kind === 'ok' ? 'green' : 'cyan';
  return (
    <Text wrap="truncate-end" color={color}>
      {mark + flash.text}
    </Text>
  );
}

const HINTS: [string, string][] = [
  ['space', 'play/pause'],
  ['n/p', 'next/prev'],
  ['←/→', 'seek'],
  ['↑/↓', 'select'],
  ['+/-', 'volume'],
  ['m', 'mute'],
  ['[/]', 'latency'],
  ['s', 'stop'],
  ['r', 'repeat'],
  ['?', 'help'],
  ['q', 'quit'],
];

/** The key hints laid out in lines of at most `width` columns (two spaces between hints). */
export function hintLines(width: number): [string, string][][] {
  const lines: [string, string][][] = [[]];
  let used = 0;
  for (const hint of HINTS) {
    const w = [...hint[0]].length + 1 + [...hint[1]].length;
    const line = lines[lines.length - 1]!;
    if (line.length > 0 && used + 2 + w > width) {
      lines.push([hint]);
      used = w;
    } else {
      used += (line.length > 0 ? 2 : 0) + w;
      line.push(hint);
    }
  }
  return lines;
}

const KeyHints = memo(function KeyHints({ lines }: { lines: [string, string][][] }): ReactNode {
  return (
    <>
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {line.map(([k, what], j) => (
            <Text key={k}>
              {j > 0 ? '  ' : ''}
              <Text bold>{k}</Text>
              <Text dimColor> {what}</Text>
            </Text>
          ))}
        </Text>
      ))}
    </>
  );
});

/** The web remote's link and its QR code, dark on light so a phone's camera reads it. */
function RemotePanel({ url, width }: { url: string; width: number }): ReactNode {
  const lines = useMemo(() => qrLines(url), [url]);
  return (
    <Box flexDirection="column" marginTop={1} width={width}>
      <Text bold color="cyan">
        Web remote: scan with a phone, or open
      </Text>
      <Text wrap="truncate-end">{url}</Text>
      <Text> </Text>
      {lines.map((line, i) => (
        <Text key={i} color="black" backgroundColor="white">
          {line}
        </Text>
      ))}
      <Text dimColor>any key closes this</Text>
    </Box>
  );
}

function HelpPanel({ width }: { width: number }): ReactNode {
  const legend: [string, string, string][] = [
    ['●', 'green', 'in sync: playing with |error| < 1 ms at normal speed'],
    ['●', 'yellow', 'correcting: |error| ≥ 1 ms, speed off by > 100 ppm, or loading / armed'],
    ['●', 'red', 'lost, a missing / different / refused file, or silent'],
    ['●', 'gray', 'idle or paused'],
    ['muted', 'magenta', 'the member is muted'],
  ];
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="cyan" paddingX={1} marginTop={1} width={Math.min(width, 90)}>
      <Text bold color="cyan">
        Keys
      </Text>
      {KEY_HELP.map(([k, what]) => (
        <Text key={k}>
          <Text bold>{fit(k, 8)}</Text>
          <Text>{what}</Text>
        </Text>
      ))}
      <Text> </Text>
      <Text bold color="cyan">
        Colours
      </Text>
      {legend.map(([mark, color, what]) => (
        <Text key={color}>
          <Text color={color}>{fit(mark, 8)}</Text>
          <Text>{what}</Text>
        </Text>
      ))}
      <Text> </Text>
      <Text dimColor>Times in ms: offset = member clock vs the leader's, rtt = round trip, error = audio ahead (+) or behind (−).</Text>
      <Text dimColor>Every key goes through the control socket's code path: the same as `syncplay ctl`. Any key closes this help.</Text>
    </Box>
  );
}

/** What <LiveLeaderApp> reads and drives: the leader's status and ControlServer.handle. */
export interface UiSource {
  status(): LeaderStatus;
  handle(request: ControlRequest): unknown;
}

export interface LiveLeaderAppProps {
  source: UiSource;
  /** the log lines to show; read with the status */
  logs?: { lines(): readonly string[] };
  onQuit: () => void;
  /** read the status at this fixed interval (default: when it can have changed, see refresh.ts) */
  refreshMs?: number;
  width?: number;
  height?: number;
}

export function LiveLeaderApp({ source, logs, onQuit, refreshMs, width, height }: LiveLeaderAppProps): ReactNode {
  // One state for both, so that a refresh is one render.
  const [view, setView] = useState(() => ({ status: source.status(), lines: logs?.lines() ?? ([] as readonly string[]) }));
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => ({ columns: stdout.columns, rows: stdout.rows }));
  useEffect(() => {
    let timer: NodeJS.Timeout;
    const read = (): void => {
      const next = source.status();
      setView({ status: next, lines: logs?.lines() ?? [] });
      timer = setTimeout(read, refreshMs ?? nextRefreshMs(next));
    };
    timer = setTimeout(read, refreshMs ?? nextRefreshMs(source.status()));
    return () => clearTimeout(timer);
  }, [source, logs, refreshMs]);
  useEffect(() => {
    const resized = (): void => setSize({ columns: stdout.columns, rows: stdout.rows });
    stdout.on('resize', resized);
    return () => {
      stdout.off('resize', resized);
    };
  }, [stdout]);
  const onAction = useCallback(
    (request: ControlRequest) => {
      const reply = source.handle(request);
      setView({ status: source.status(), lines: logs?.lines() ?? [] });
      return reply;
    },
    [source, logs],
  );
  return <LeaderApp status={view.status} logs={view.lines} onAction={onAction} onQuit={onQuit} width={width ?? size.columns} height={height ?? size.rows} />;
}
