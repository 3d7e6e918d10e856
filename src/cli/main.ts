/** The `syncplay` command line: leader | member | ctl | demo. */
import { escapeText } from '../log/escape.js';
import { Command, Option } from 'commander';
import type { ControlRequest } from '../leader/control-server.js';
import { DEFAULT_START_LEAD_MS } from '../leader/command-lead.js';
import { TRANSFER } from '../protocol/transfer-tunables.js';
import { DEFAULT_CACHE_BYTES } from '../member/fetch/file-cache.js';
import { DEFAULT_PORT, collect, parseByteSize, parseCount, parseMs, parsePort, parsePositiveMs } from './options.js';
import { VERSION } from './version.js';
import { terminalUiWanted } from './terminal-ui.js';
import { WEB_LIMITS } from '../web/limits.js';

function fail(e: unknown): never {
  process.stderr.write(`syncplay: ${escapeText((e as Error).message ?? String(e))}\n`);
  process.exit(1);
}

// Each command's code is loaded when that command runs: a leader does not start by loading the
// member, the calibrator and the demo (on a Pi, every module is tens of milliseconds).
const runCtl: typeof import('./ctl-command.js').runCtl = async (...a) => (await import('./ctl-command.js')).runCtl(...a);
const runDemo: typeof import('./demo-command.js').runDemo = async (...a) => (await import('./demo-command.js')).runDemo(...a);
const runDiscover: typeof import('./discover-command.js').runDiscover = async (...a) => (await import('./discover-command.js')).runDiscover(...a);
const runPair: typeof import('./pair-command.js').runPair = async (...a) => (await import('./pair-command.js')).runPair(...a);
const runCalibrate: typeof import('../calibrate/calibrate-command.js').runCalibrate = async (...a) => (await import('../calibrate/calibrate-command.js')).runCalibrate(...a);
// On a terminal, the leader's first frame is drawn (plain text) before the leader's code loads.
const runLeader = async (o: import('./leader-command.js').LeaderCommandOptions): Promise<void> => {
  let frame: import('../leader/ui/first-frame.js').FirstFrame | null = null;
  if (terminalUiWanted(o.ui)) {
    frame = new (await import('../leader/ui/first-frame.js')).FirstFrame();
    frame.start();
  }
  return (await import('./leader-command.js')).runLeader(o, frame);
};
const runMember: typeof import('./member-command.js').runMember = async (...a) => (await import('./member-command.js')).runMember(...a);

export function buildProgram(): Command {
  const program = new Command('syncplay')
    .description('Play a playlist of local music files in sync on many devices.\nOne device runs `syncplay leader`, every other runs `syncplay member`; each device holds the same files.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('leader')
    .description('serve the playlist and the shared timeline to members; drive it with `syncplay ctl`')
    .requiredOption('-m, --music-dir <dir>', 'folder holding the music (the same files on every device)')
    .option('--playlist <file>', 'an .m3u/.m3u8 playlist (default: the first one in the music dir or its playlists/ folder, else every audio file in natural order)')
    .option('--host <addr>', 'address to listen on', '0.0.0.0')
    .option('-p, --port <n>', 'TCP port to listen on', parsePort, DEFAULT_PORT)
    .option('--autoplay', 'start playing as soon as the first member has synchronised its clock')
    .option('--shuffle', 'play the playlist in a random order')
    .addOption(new Option('--repeat <mode>', 'what follows the last track: off (stop), all (start over), one (repeat each track)').choices(['off', 'all', 'one']).default('off'))
    .option('--lead-ms <ms>', "how far ahead a command's instant is set (the slowest member's round trip is added)", parsePositiveMs, 500)
    .option('--start-lead-ms <ms>', 'how far ahead a start from silence at a track\'s beginning is set (PLAY when stopped): members align it on silence before it is heard', parsePositiveMs, DEFAULT_START_LEAD_MS)
    .option('--ntp <server[:port]>', 'keep the shared clock in UTC from this NTP server (use the same one on the leader and every member): independent leaders and scheduled starts agree to the millisecond')
    .option('--secret-file <file>', 'use the party secret in this file instead of the state dir\'s own (scripted installs; challenge–response, never sent)')
    .option('--open', 'no party secret: anyone on the network may join (default: members need the secret or a pairing)')
    .option('--state-dir <dir>', 'where the party secret, paired members and member settings are kept (default: $XDG_STATE_HOME/syncplay or ~/.local/state/syncplay)')
    .option('--party-name <name>', "the party's name, shown to members that discover it (default: this host's name)")
    .option('--no-advertise', 'do not announce the party on the local network (mDNS); members then need --ip')
    .option('--web <port>', `serve the web remote (a phone's remote control and the JSON API) on this port, on --host (0 picks a free one)`, parsePort, WEB_LIMITS.defaultPort)
    .option('--no-web', 'no web remote')
    .option('--no-ui', 'run headless with plain log lines')
    .option('--play', "also play on this device's speakers (the leader becomes a member too)")
    .option('--name <name>', 'member name of this device when --play is given')
    .option('--audio-device <dev>', "with --play: mpv's --audio-device (e.g. alsa/hdmi, pulse/<sink>)")
    .option('--mpv-arg <arg>', 'with --play: an extra mpv option, repeatable (e.g. --mpv-arg=--ao=null)', collect, [])
    .option('--latency-offset <ms>', "with --play: this device's output latency in ms (it starts that much earlier)", parseMs, 0)
    .option('--socket <path>', 'control socket path (default: $XDG_RUNTIME_DIR/syncplay/leader.sock or ~/.syncplay/leader.sock)')
    .option('--state-file <file>', 'where per-member volume, mute and latency offsets are remembered (default: members.json in the state dir)')
    .option('--no-serve-files', "don't hand playlist files to members that lack them")
    .option('--files-port <n>', 'TCP port for those transfers (default: any free port; members learn it when they join)', parsePort, 0)
    .option('--serve-rate <bytes/s>', 'the most all transfers together may send per second, e.g. 2M (0: no limit)', parseByteSize, TRANSFER.SERVE_RATE)
    .option('--start-at <HH:MM[:SS]>', 'start the playlist from track 1 at this time of day (today, or tomorrow if already past), heard at that instant on every member')
    .option('--schedule <cron>', 'start the playlist from track 1 at every time matching this cron expression (5 or 6 fields: [second] minute hour day-of-month month day-of-week; e.g. "0 20 * * 6" = Saturdays 20:00)')
    .option('--stop-at <HH:MM[:SS]>', 'stop playing at this time of day (today, or tomorrow if already past)')
    .option('--stop-schedule <cron>', 'stop playing at every time matching this cron expression (e.g. "0 23 * * 6")')
    .option('--tz <Area/City>', 'time zone of --start-at, --schedule, --stop-at and --stop-schedule (default: the system time zone)')
    .option('--max-members <n>', 'refuse members beyond this many (default 128)', parseCount)
    .option('--max-connections <n>', 'close TCP connections beyond this many (default 256)', parseCount)
    .option('--lost-after <ms>', 'a member silent this long is marked lost and its connection closed (default 3500)', parsePositiveMs)
    .option('-v, --verbose', 'debug logging')
    .addHelpText(
      'after',
      '\nExample:\n  syncplay leader --music-dir ~/Music --play --autoplay\n  syncplay ctl next\n' +
        '\nScheduled parties (each start plays from track 1; a start while playing is skipped):\n' +
        '  syncplay leader --music-dir ~/Music --start-at 20:00 --stop-at 23:30\n' +
        '  syncplay leader --music-dir ~/Music --schedule "0 20 * * 6" --stop-schedule "0 23 * * 6" --tz Europe/Berlin',
    )
    .action((o) => runLeader(o).catch(fail));

  program
    .command('member')
    .description("follow a leader's timeline on this device's speakers")
    .option('--ip <host>', "the leader's address (default: find it on the local network with mDNS)")
    .option('-p, --port <n>', "the leader's port (with --ip)", parsePort, DEFAULT_PORT)
    .option('--party <name>', 'with several leaders on the network: join the one of this party (name or id)')
    .option('--discover-timeout <ms>', 'how long to look for a leader on the network before giving up', parsePositiveMs, 5000)
    .requiredOption('-m, --music-dir <dir>', "folder holding the same files as the leader's music dir")
    .option('--name <name>', 'name shown on the leader (default: host name)')
    .option('--audio-device <dev>', "mpv's --audio-device (e.g. alsa/hdmi, pulse/<sink>; list with `mpv --audio-device=help`)")
    .option('--mpv-arg <arg>', 'an extra mpv option, repeatable (e.g. --mpv-arg=--ao=null)', collect, [])
    .option('--mpv-path <path>', 'mpv executable', undefined)
    .option('--latency-offset <ms>', "this device's output latency in ms (it starts that much earlier)", parseMs, 0)
    .option('--ntp <server[:port]>', 'keep the shared clock in UTC from this NTP server (use the same one on the leader and every member): independent leaders and scheduled starts agree to the millisecond')
    .option('--secret-file <file>', "the party secret (scripted installs; see leader --secret-file)")
    .option('--join <code>', "pair with the leader's join code (once per device; remembered in the state dir). On a terminal you are asked for it when needed")
    .option('--state-dir <dir>', 'where pairings are remembered (default: $XDG_STATE_HOME/syncplay or ~/.local/state/syncplay)')
    .option('--telemetry <file>', 'append every sync reading (position error, speed) to FILE as JSON lines')
    .option('--no-fetch', "don't fetch playlist files this device lacks from the leader (stay silent for them)")
    .option('--cache-dir <dir>', 'where fetched files are kept (default: $XDG_CACHE_HOME/syncplay/files or ~/.cache/syncplay/files)')
    .option('--cache-size <size>', 'the most the fetched files may take, e.g. 500M or 4G; least recently used ones go first', parseByteSize, DEFAULT_CACHE_BYTES)
    .option('--sync-music', 'also copy fetched files into the music dir (never over a file that is there)')
    .option('-v, --verbose', 'debug logging')
    .addHelpText('after', '\nExamples:\n  syncplay member --music-dir ~/Music --join 1234-5678     (first time: find the leader, pair with its code)\n  syncplay member --music-dir ~/Music --audio-device alsa/hdmi\n  syncplay member --ip 192.168.1.20 --music-dir ~/Music      (a network without multicast)')
    .action((o) => runMember(o).catch(fail));

  const ctl = program
    .command('ctl')
    .description('drive the leader running on this machine')
    .option('--socket <path>', 'control socket path (default: $XDG_RUNTIME_DIR/syncplay/leader.sock or ~/.syncplay/leader.sock)')
    .option('--json', 'print the raw JSON answer');
  const send = (request: ControlRequest, sub: Command): void => {
    const o = sub.optsWithGlobals<{ socket?: string; json?: boolean }>();
    // No process.exit: it would cut off a reply still draining into a pipe.
    runCtl(request, o).then((code) => (process.exitCode = code), fail);
  };
  ctl
    .command('play [track]')
    .description('start playing (or resume); with TRACK, jump to that track number')
    .action((track: string | undefined, _o, sub: Command) => {
      const n = track === undefined ? undefined : Number(track);
      if (n !== undefined && (!Number.isInteger(n) || n < 1)) fail(new Error(`track must be a track number from 1, got "${track}"`));
      send(n === undefined ? { cmd: 'play' } : { cmd: 'play', track: n }, sub);
    });
  for (const [name, description] of [
    ['pause', 'pause every member at one instant'],
    ['resume', 'resume from where it paused'],
    ['stop', 'stop playing'],
    ['next', 'go to the next track'],
    ['prev', 'restart this track, or go to the previous one within its first 3 s'],
  ] as const) {
    ctl.command(name).description(description).action((_o, sub: Command) => send({ cmd: name }, sub));
  }
  ctl
    .command('seek <seconds>')
    .description('seek to SECONDS in the current track; +N / -N seek relative')
    .allowUnknownOption()
    .action((seconds: string, _o, sub: Command) => {
      const n = Number(seconds);
      if (!Number.isFinite(n)) fail(new Error(`seek needs a number of seconds, got "${seconds}"`));
      send({ cmd: 'seek', seconds: n, relative: /^[+-]/.test(seconds) }, sub);
    });
  ctl
    .command('repeat <mode>')
    .description('what follows the last track: all (start over), one (repeat this track), off (stop)')
    .action((mode: string, _o, sub: Command) => {
      if (mode !== 'all' && mode !== 'one' && mode !== 'off') fail(new Error(`repeat mode is all, one or off, got "${mode}"`));
      send({ cmd: 'repeat', mode }, sub);
    });
  ctl
    .command('volume <member> <level>')
    .description('set a member\'s volume 0–100 (+N / -N relative); MEMBER "all" sets every member')
    .allowUnknownOption()
    .action((member: string, level: string, _o, sub: Command) => {
      const n = Number(level);
      if (!Number.isFinite(n)) fail(new Error(`volume needs a number 0–100 or +N / -N, got "${level}"`));
      send(/^[+-]/.test(level) ? { cmd: 'volume', member, delta: n } : { cmd: 'volume', member, volume: Math.max(0, Math.min(100, n)) }, sub);
    });
  ctl
    .command('mute <member> [state]')
    .description('mute or unmute a member (STATE on | off; default: toggle); MEMBER "all" for every member')
    .action((member: string, state: string | undefined, _o, sub: Command) => {
      if (state !== undefined && state !== 'on' && state !== 'off') fail(new Error(`mute state is "on" or "off", got "${state}"`));
      send(state === undefined ? { cmd: 'mute', member } : { cmd: 'mute', member, muted: state === 'on' }, sub);
    });
  ctl
    .command('offset <member> <ms>')
    .description("set a member's output latency offset in ms (+N / -N relative; \"clear\" returns to the member's own --latency-offset); remembered by name")
    .allowUnknownOption()
    .action((member: string, ms: string, _o, sub: Command) => {
      if (ms === 'clear') return send({ cmd: 'offset', member, ms: null }, sub);
      const n = Number(ms);
      if (!Number.isFinite(n) || Math.abs(n) > 10_000) fail(new Error(`offset needs milliseconds between -10000 and 10000, got "${ms}"`));
      send({ cmd: 'offset', member, ms: n, relative: /^[+-]/.test(ms) }, sub);
    });
  ctl
    .command('pair')
    .description('show the join code new members pair with (and the paired members); --new replaces the code')
    .option('--new', 'a fresh code: the old one stops working')
    .action((o: { new?: boolean }, sub: Command) => send({ cmd: 'pair', ...(o.new ? { new: true } : {}) }, sub));
  ctl
    .command('forget <member>')
    .description('remove a paired member: it is disconnected and can join again only with a new pairing')
    .action((member: string, _o, sub: Command) => send({ cmd: 'forget', member }, sub));
  ctl
    .command('status')
    .description('the timeline and every member: clock offset, round trip, sync error, speed, files')
    .option('--json', 'machine-readable')
    .option('--tracks', 'with --json: include every track of the playlist (default: a summary)')
    .action((o: { tracks?: boolean }, sub: Command) => send(o.tracks ? { cmd: 'status', tracks: true } : { cmd: 'status' }, sub));

  program
    .command('calibrate')
    .description("measure each member's speaker with a microphone and store the latency offsets that line them up")
    .option('--ip <host>', "the leader's address (default: find it on the local network with mDNS)")
    .option('-p, --port <n>', "the leader's port", parsePort, DEFAULT_PORT)
    .option('--party <name>', 'with several leaders on the network: the one of this party')
    .option('--secret-file <file>', "the leader's secret (see leader --secret-file)")
    .option('--join <code>', "pair with the leader's join code first (once per device; remembered)")
    .option('--state-dir <dir>', 'where pairings are remembered (default: $XDG_STATE_HOME/syncplay)')
    .option('--member <name>', 'calibrate only this member, repeatable (default: every connected member)', collect, [])
    .option('--input <source>', 'microphone: PulseAudio source (parec), ALSA device (arecord) or sox input (default: the system default input)')
    .addOption(new Option('--capture-tool <tool>', 'record with this tool (default: the first installed)').choices(['parec', 'arecord', 'sox']))
    .option('--window <ms>', 'how far from its expected instant a member may be heard (raise it for Bluetooth speakers)', parsePositiveMs, 300)
    .option('--min-confidence <dB>', 'refuse measurements whose correlation peak is less than this far above the noise', parsePositiveMs, 20)
    .option('--repeat <n>', 'sweeps per member: the median counts, and they must agree (see --max-spread)', (v) => Math.max(1, Math.min(10, Math.round(Number(v)) || 1)), 1)
    .option('--max-spread <ms>', "refuse a member whose repeated sweeps disagree by more than this", parsePositiveMs, 2)
    .option('--dry-run', 'measure and report, store nothing')
    .option('--json', 'print the report as JSON')
    .option('--self', "no leader: play the sweep on this device's own mpv and report its round trip")
    .option('--audio-device <dev>', "with --self: mpv's --audio-device")
    .option('--mpv-arg <arg>', 'with --self: an extra mpv option, repeatable', collect, [])
    .option('--mpv-path <path>', 'with --self: mpv executable')
    .option('-v, --verbose', 'debug logging')
    .addHelpText('after', '\nExample (music paused, the microphone where people will listen):\n  syncplay calibrate --ip 192.168.1.20 --dry-run\n  syncplay calibrate --ip 192.168.1.20\n  syncplay calibrate --self --audio-device alsa/hdmi')
    .action((o) => runCalibrate({ ...o, windowMs: o.window, maxSpreadMs: o.maxSpread, version: VERSION }).then((code) => process.exit(code), fail));

  program
    .command('pair [code]')
    .description("pair this device with a leader once, using the join code it shows (then start the member or its service)")
    .option('--ip <host>', "the leader's address (default: find it on the local network with mDNS)")
    .option('-p, --port <n>', "the leader's port (with --ip)", parsePort, DEFAULT_PORT)
    .option('--party <name>', 'with several leaders on the network: the one of this party')
    .option('--name <name>', 'the member name to pair as (default: host name); the member must then use it')
    .option('--state-dir <dir>', 'where the pairing is remembered (default: $XDG_STATE_HOME/syncplay)')
    .option('--discover-timeout <ms>', 'how long to look for a leader on the network', parsePositiveMs, 5000)
    .option('-v, --verbose', 'debug logging')
    .addHelpText('after', '\nExample (a Raspberry Pi, as the service user):\n  sudo -u syncplay syncplay pair 1234-5678 --state-dir /var/lib/syncplay')
    .action((code: string | undefined, o) => runPair(code, o).then((c) => process.exit(c), fail));

  program
    .command('discover')
    .description('list the leaders announcing a party on the local network (mDNS)')
    .option('--json', 'machine-readable')
    .option('--timeout <ms>', 'how long to listen for answers', parsePositiveMs, 2000)
    .action((o: { json?: boolean; timeout: number }) => runDiscover(o).then((code) => process.exit(code), fail));

  program
    .command('demo')
    .description('a leader and two members on this machine playing the bundled example playlist')
    .option('-m, --music-dir <dir>', 'play this folder instead of the bundled playlist')
    .addOption(new Option('--members <n>', 'how many members').default(2).argParser((v) => Math.max(1, Math.min(8, Number(v) || 2))))
    .option('--silent', 'play to no device (--ao=null) even where one exists')
    .option('--socket <path>', 'control socket path (default: a private temporary one)')
    .option('-v, --verbose', 'debug logging')
    .action((o) => runDemo(o).catch(fail));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
