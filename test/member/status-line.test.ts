/** The member's one-line terminal status: its content, its colours' meaning, redrawing in place. */
import chalk from 'chalk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memberStatusColor, memberStatusSegments, renderSegments, StatusLine, type MemberStatusView } from '../../src/member/status-line.js';

const view = (over: Partial<MemberStatusView> = {}): MemberStatusView => ({
  connected: true,
  clockOffsetMs: -0.412,
  rttMs: 0.8,
  errorMs: 0.25,
  speed: 1.00002,
  playerState: 'playing',
  fileStatus: 'ok',
  trackIndex: 1,
  trackCount: 3,
  title: 'Harbour Lights',
  volume: 100,
  muted: false,
  ...over,
});

let level: typeof chalk.level;
beforeEach(() => {
  level = chalk.level;
  chalk.level = 0;
});
afterEach(() => {
  chalk.level = level;
});

describe('member status line', () => {
  it('says connected or lost, the clock offset, the sync error, the speed and the track', () => {
    const line = renderSegments(memberStatusSegments(view()), 200);
    expect(line).toBe('● connected  clock -0.412 ms  error +0.250 ms  speed 1.00002  playing  2/3 Harbour Lights');
    const lost = renderSegments(memberStatusSegments(view({ connected: false, errorMs: null, playerState: 'paused', muted: true })), 200);
    expect(lost).toContain('LOST');
    expect(lost).toContain('error —');
    expect(lost).toContain('muted');
  });

  it('is cut to the terminal width with …', () => {
    const line = renderSegments(memberStatusSegments(view()), 60);
    expect([...line]).toHaveLength(60);
    expect(line.endsWith('…')).toBe(true);
  });

  it('colours like the leader UI: green in sync, yellow correcting, red lost or silent', () => {
    expect(memberStatusColor(view())).toBe('green');
    expect(memberStatusColor(view({ errorMs: 3 }))).toBe('yellow');
    expect(memberStatusColor(view({ speed: 1.001 }))).toBe('yellow');
    expect(memberStatusColor(view({ playerState: 'armed', errorMs: null }))).toBe('yellow');
    expect(memberStatusColor(view({ connected: false }))).toBe('red');
    expect(memberStatusColor(view({ playerState: 'silent', fileStatus: 'missing' }))).toBe('red');
    expect(memberStatusColor(view({ playerState: 'idle', errorMs: null }))).toBe('gray');
  });

  it('redraws in place and writes log lines above itself', () => {
    const out: string[] = [];
    const logs: string[] = [];
    const line = new StatusLine({ columns: 50, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream, { write: (s: string) => logs.push(s) });
    let n = 0;
    line.start(() => [[`status ${++n}`]], 60_000);
    expect(out).toEqual(['\r\x1b[2Kstatus 1']);
    line.log('a log line');
    expect(logs).toEqual(['a log line\n']);
    // cleared before the log line, drawn again after it
    expect(out).toEqual(['\r\x1b[2Kstatus 1', '\r\x1b[2K', '\r\x1b[2Kstatus 2']);
    line.stop();
    expect(out.at(-1)).toBe('\r\x1b[2K');
    line.log('after stop');
    expect(out).toHaveLength(4);
    expect(logs).toEqual(['a log line\n', 'after stop\n']);
  });
});
