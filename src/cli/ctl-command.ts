/** `syncplay ctl …`: drive the running leader through its local control socket. */
import { escapeLines, escapeText } from '../log/escape.js';
import { createConnection } from 'node:net';
import type { ControlRequest } from '../leader/control-server.js';
import type { LeaderStatus } from '../leader/leader.js';
import { describeProgress } from '../playlist/progress.js';
import { defaultControlSocketPath } from '../leader/control-socket-path.js';
import { fetchCell, fetchText } from '../member/fetch/progress-text.js';

export async function sendControl(request: ControlRequest, socketPath = defaultControlSocketPath(), timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the leader did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (d: Buffer) => {
      // The reply is one line, possibly megabytes long (status --tracks): look for its end in the new data only.
      const nl = d.indexOf(0x0a);
      chunks.push(nl === -1 ? d : d.subarray(0, nl));
      if (nl === -1) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      } catch (e) {
        reject(new Error(`unreadable answer from the leader: ${(e as Error).message}`));
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(new Error(`no leader running here (no control socket at ${socketPath}): start one with \`syncplay leader --music-dir DIR\`, or pass --socket PATH`));
      } else if (e.code === 'EACCES') {
        reject(new Error(`permission denied on ${socketPath}: run ctl as the user who runs the leader`));
      } else reject(e);
    });
  });
}

const fmt = (v: number | null, digits = 2, unit = ''): string => (v === null || v === undefined ? '—' : `${v.toFixed(digits)}${unit}`);

/** The status as `ctl status` prints it (`tracks` is not needed: the summary says how many). */
export function formatStatus(s: Omit<LeaderStatus, 'tracks'>): string {
  const lines: string[] = [];
  const t = s.playhead;
  const track = s.track;
  const where = track ? `track ${t.trackIndex + 1}/${s.playlist.count} "${track.title}"${track.artist ? ` by ${track.artist}` : ''} at ${t.positionSec.toFixed(1)} / ${track.durationSec.toFixed(1)} s` : 'end of playlist';
  lines.push(`${t.state.toUpperCase()}  ${escapeText(where)}`);
  lines.push(`leader on ${s.listening.host}:${s.listening.port}, timeline #${s.timeline.seq}, playlist version ${s.playlist.version}: ${s.playlist.count} tracks`);
  if (s.scan && s.scan.phase !== 'done') lines.push(`scanning the music dir: ${describeProgress(s.scan)}`);
  if (s.party) {
    const p = s.party.pairing;
    lines.push(s.party.open ? `party "${s.party.name}": OPEN (--open), anyone on the network may join` : `party "${s.party.name}"${p ? `: join code ${p.code} (valid ${Math.ceil(p.expiresInSec / 60)} min), ${p.paired.length} paired` : ''}`);
  }
  lines.push('');
  if (s.members.length === 0) {
    lines.push('no members connected');
  } else {
    lines.push(['member', 'address', 'state', 'offset ms', 'rtt ms', 'error ms', 'speed', 'files', 'player', 'volume', 'latency ms'].join('\t'));
    for (const m of s.members) {
      const checking = m.filesChecked !== null && m.filesTotal !== null && m.filesChecked < m.filesTotal ? ` ${m.filesChecked}/${m.filesTotal}` : '';
      const files = m.fileStatus === 'ok' ? 'ok' : `${m.fileStatus}${checking}${m.fileProblems.length ? ` (${m.fileProblems.map((p) => `#${p.index + 1} ${p.status}`).slice(0, 3).join(', ')})` : ''}`;
      const fetching = fetchCell(m.fetch);
      lines.push([escapeText(m.name), m.address, m.connected ? 'connected' : 'LOST', fmt(m.clockOffsetMs, 3), fmt(m.rttMs, 3), fmt(m.errorMs, 3), m.speed === null ? '—' : m.speed.toFixed(5), fetching ? `${files} ${fetching}` : files, m.playerState, m.muted ? 'muted' : String(m.volume), fmt(m.latencyOffsetMs, 0)].join('\t'));
    }
  }
  const fetches = s.members.flatMap((m) => {
    const text = m.connected ? fetchText(m.fetch) : null;
    return text ? [`  ${escapeText(m.name)}: ${text}`] : [];
  });
  if (fetches.length) lines.push('', ...fetches);
  if (s.files) lines.push('', `files served on port ${s.files.port}: ${(s.files.stats.bytesServed / 1e6).toFixed(1)} MB so far, at most ${(s.files.rateBytesPerSec / 1048576).toFixed(1)} MiB/s`);
  return lines.join('\n');
}

/**
 * Sends one request and prints the answer; resolves with the exit code once stdout has taken
 * all of it (the caller sets process.exitCode rather than exiting: a pipe may still be draining).
 */
export async function runCtl(request: ControlRequest, opts: { socket?: string; json?: boolean }): Promise<number> {
  const reply = await sendControl(request, opts.socket);
  if (opts.json) {
    await writeOut(JSON.stringify(reply, null, 2) + '\n');
    return reply.ok ? 0 : 1;
  }
  if (!reply.ok) {
    process.stderr.write(`syncplay: ${escapeText(String(reply.error))}\n`);
    return 1;
  }
  if (request.cmd === 'status') await writeOut(formatStatus(reply.status as LeaderStatus) + '\n');
  else await writeOut(`${escapeLines(String(reply.description))}\n`);
  return 0;
}

/** Writes to stdout and resolves when the write is flushed (or stdout is gone: a closed pipe). */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.once('error', () => resolve());
    process.stdout.write(text, () => resolve());
  });
}
