/** The command line itself: help, and clear failures when something is missing. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

describe('syncplay CLI', () => {
  const cluster = new Cluster('syncplay-cli');
  afterAll(() => cluster.cleanup());

  it('--help lists the commands and exits 0', async () => {
    const r = await cluster.run(['--help']);
    expect(r.code).toBe(0);
    for (const word of ['leader', 'member', 'ctl', 'demo', '--version', '--help']) expect(r.stdout).toContain(word);
  });

  it('member --help lists its flags and exits 0', async () => {
    const r = await cluster.run(['member', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--ip <host>', '--port <n>', '--music-dir <dir>', '--name <name>', '--audio-device <dev>', '--mpv-arg <arg>', '--mpv-path <path>', '--latency-offset <ms>', '--secret-file <file>', '--telemetry <file>', '--verbose']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('leader --help and ctl --help list their flags and exit 0', async () => {
    const leader = await cluster.run(['leader', '--help']);
    expect(leader.code).toBe(0);
    for (const flag of ['--music-dir <dir>', '--playlist <file>', '--host <addr>', '--port <n>', '--autoplay', '--lead-ms <ms>', '--secret-file <file>', '--socket <path>', '--play']) expect(leader.stdout).toContain(flag);
    const ctl = await cluster.run(['ctl', '--help']);
    expect(ctl.code).toBe(0);
    for (const word of ['play', 'pause', 'resume', 'stop', 'next', 'prev', 'seek', 'status', '--socket <path>', '--json']) expect(ctl.stdout).toContain(word);
  });

  it('ctl status without a leader exits 1 and says there is none', async () => {
    const socket = join(cluster.tmp, 'nobody-here.sock');
    const r = await cluster.run(['ctl', '--socket', socket, 'status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no leader running here (no control socket at ${socket})`);
    expect(r.stdout).toBe('');
    const json = await cluster.run(['ctl', '--socket', socket, 'status', '--json']);
    expect(json.code).toBe(1);
    expect(json.stderr).toContain('no leader running here');
  });

  it('member without --music-dir exits non-zero with the missing option named', async () => {
    // (Without --ip a member looks for its leader with multicast DNS: that is tested in network namespaces only.)
    const r = await cluster.run(['member', '--ip', '127.0.0.1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error: required option '-m, --music-dir <dir>' not specified/);
  });

  it('member with a music dir that does not exist exits 1 and says so', async () => {
    const missing = join(cluster.tmp, 'no-such-dir');
    const r = await cluster.run(['member', '--ip', '127.0.0.1', '--port', '9', '--music-dir', missing, '--mpv-arg=--ao=null']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`music dir ${missing} does not exist`);
  });

  it('ctl with a bad track number or seek target exits non-zero before contacting anyone', async () => {
    const socket = join(cluster.tmp, 'nobody-here.sock');
    const play = await cluster.run(['ctl', '--socket', socket, 'play', 'zero']);
    expect(play.code).not.toBe(0);
    expect(play.stderr).toContain('track must be a track number from 1');
    const seek = await cluster.run(['ctl', '--socket', socket, 'seek', 'soon']);
    expect(seek.code).not.toBe(0);
    expect(seek.stderr).toContain('seek needs a number of seconds');
  });
});
