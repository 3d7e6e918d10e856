/**
 * `syncplay demo`: a leader and two members on this machine playing the bundled playlist.
 * Where no audio device can be opened it says so and plays silently (--ao=null) instead.
 */
import { basename, dirname, join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createLogger } from '../log/logger.js';
import { Member } from '../member/member.js';
import { canOpenAudioOutput } from '../member/mpv/audio-output-probe.js';
import { loadPlaylist } from '../playlist/load-playlist.js';
import { formatStatus } from './ctl-command.js';
import { startLeader } from './leader-command.js';
import { untilSignal } from './until-signal.js';
import { VERSION, projectRoot } from './version.js';

export interface DemoOptions {
  musicDir?: string;
  members: number;
  silent?: boolean;
  verbose?: boolean;
  socket?: string;
}

/** How this program was started, for hints: `syncplay` when on the PATH, else the script's path. */
function invokedAs(): string {
  const script = process.argv[1] ?? 'syncplay';
  return basename(script) === 'syncplay' && (process.env.PATH ?? '').split(':').some((dir) => dir === dirname(script)) ? 'syncplay' : script;
}

export async function runDemo(o: DemoOptions): Promise<void> {
  const log = createLogger(o.verbose ? 'debug' : 'info');
  const musicDir = o.musicDir ?? join(projectRoot(), 'playlists');
  const playlist = await loadPlaylist({ musicDir });
  let mpvArgs: string[] = [];
  if (o.silent) {
    mpvArgs = ['--ao=null'];
  } else {
    const probe = await canOpenAudioOutput(join(musicDir, playlist.tracks[0]!.path), []);
    if (!probe.ok) {
      log.warn('no audio device could be opened on this machine: playing silently (--ao=null). The sync figures below are real all the same.');
      mpvArgs = ['--ao=null'];
    }
  }
  const demoDir = mkdtempSync(join(tmpdir(), 'syncplay-demo-'));
  const socket = o.socket ?? join(demoDir, 'leader.sock');
  // A party of its own: a fresh secret in a private state dir, shared with the members in-process;
  // on loopback only, not announced on the network.
  const running = await startLeader(
    { musicDir, host: '127.0.0.1', port: 0, leadMs: 500, ui: false, mpvArg: [], latencyOffset: 0, autoplay: true, socket, stateFile: null, stateDir: join(demoDir, 'state'), advertise: false, web: 0 },
    log,
  );
  const members: Member[] = [];
  for (let i = 1; i <= o.members; i++) {
    const m = new Member({ host: '127.0.0.1', port: running.leader.port, musicDir, name: `demo-${i}`, secret: running.party?.secret ?? null, mpvArgs, latencyOffsetMs: 0, version: VERSION, log: log.child(`demo-${i}`) });
    await m.start();
    members.push(m);
  }
  log.info(`demo party: ${o.members} members on ${playlist.tracks.length} tracks; Ctrl-C to end. Drive it from another terminal with: ${invokedAs()} ctl --socket ${socket} next${running.web ? `, or from a browser: ${running.web.url()}` : ''}`);
  let sawPlaying = false;
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      const status = running.leader.status();
      if (status.playhead.state === 'playing') sawPlaying = true;
      process.stdout.write('\n' + formatStatus(status) + '\n');
      if (sawPlaying && status.timeline.state === 'stopped') {
        clearInterval(timer);
        resolve();
      }
    }, 3000);
  });
  await Promise.race([ended, untilSignal()]);
  clearInterval(timer);
  log.info('demo over');
  // All at once: Ctrl-C reached every member's mpv too, and a member still waiting its turn would
  // take its player's end for a crash.
  await Promise.all(members.map((m) => m.stop()));
  await running.stop();
}
