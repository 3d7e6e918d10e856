/**
 * The systemd units in systemd/: `systemd-analyze verify` accepts them without a single warning,
 * they carry the settings the install guide relies on, and the example /etc/default/syncplay
 * expands into command lines syncplay accepts.
 *
 * `systemd-analyze verify` insists that ExecStart's binary exists, so it checks copies whose
 * ExecStart points at this checkout's bin/syncplay instead of /usr/local/bin/syncplay.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { validateScheduleOptions } from '../../src/leader/schedule/party-scheduler.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(ROOT, 'systemd');
const UNITS = ['syncplay-leader.service', 'syncplay-member.service'];
const INSTALLED_BIN = '/usr/local/bin/syncplay';

const read = (name: string): string => readFileSync(join(DIR, name), 'utf8');

function findSystemdAnalyze(): string | null {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  return r.error ? null : 'systemd-analyze';
}

describe('systemd units', () => {
  it('pass `systemd-analyze verify` without warnings', () => {
    const tool = findSystemdAnalyze();
    if (!tool) {
      throw new Error('systemd-analyze is not installed, so the units cannot be verified: install it with `sudo apt-get install systemd` (Debian/Ubuntu; the package ships /usr/bin/systemd-analyze)');
    }
    const tmp = mkdtempSync(join(tmpdir(), 'syncplay-units-'));
    try {
      for (const unit of UNITS) writeFileSync(join(tmp, unit), read(unit).replaceAll(INSTALLED_BIN, join(ROOT, 'bin', 'syncplay')));
      const r = spawnSync(tool, ['verify', ...UNITS.map((u) => join(tmp, u))], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' } });
      // verify exits 0 on unknown keys and bad values: any message at all is a failure
      const output = `${r.stdout}${r.stderr}`.trim();
      expect(output, `systemd-analyze verify said:\n${output}`).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  for (const unit of UNITS) {
    it(`${unit} has what the install guide relies on`, () => {
      const text = read(unit);
      const keys = unitKeys(text);
      expect(keys.get('ExecStart')?.[0]).toMatch(new RegExp(`^${INSTALLED_BIN} (leader|member) `));
      expect(keys.get('After')?.join(' ')).toMatch(/network-online\.target/);
      expect(keys.get('After')?.join(' ')).toMatch(/sound\.target/);
      expect(keys.get('Wants')).toContain('network-online.target');
      expect(keys.get('User')).toEqual(['syncplay']);
      expect(keys.get('SupplementaryGroups')).toEqual(['audio']);
      expect(keys.get('EnvironmentFile')).toEqual(['/etc/default/syncplay']);
      expect(keys.get('Restart')).toEqual(['on-failure']);
      expect(Number(keys.get('RestartSec')?.[0])).toBeGreaterThan(0);
      expect(keys.get('RuntimeDirectory')).toBeDefined();
      expect(keys.get('StateDirectory')).toEqual(['syncplay']);
      expect(keys.get('WantedBy')).toEqual(['multi-user.target']);
    });
  }

  it('the leader runs headless with its socket and state in the unit-managed directories', () => {
    const exec = unitKeys(read('syncplay-leader.service')).get('ExecStart')![0]!;
    expect(exec).toContain(' --no-ui');
    expect(exec).toContain('--socket=/run/syncplay/leader.sock');
    expect(exec).toContain('--state-file=/var/lib/syncplay/members.json');
    expect(exec).toContain('--state-dir=/var/lib/syncplay');
  });

  it('every variable the units use is set in the example /etc/default/syncplay', () => {
    const env = parseEnvironmentFile(read('syncplay.default'));
    for (const unit of UNITS) {
      for (const m of read(unit).matchAll(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g)) expect([...env.keys()], `${unit} uses ${m[1]}`).toContain(m[1]);
    }
  });

  it('the example settings expand into leader and member command lines syncplay accepts', () => {
    const env = parseEnvironmentFile(read('syncplay.default'));
    const leaderArgs = expandExecStart(unitKeys(read('syncplay-leader.service')).get('ExecStart')![0]!, env);
    const leader = parseWith('leader', leaderArgs.slice(2));
    expect(leader).toMatchObject({ ui: false, musicDir: '/srv/music', schedule: '0 20 * * 6', stopSchedule: '30 23 * * 6', tz: 'Europe/Berlin', startAt: '', repeat: 'all' });
    const schedule = validateScheduleOptions(leader as Parameters<typeof validateScheduleOptions>[0]);
    expect(schedule?.schedule?.source).toBe('0 20 * * 6');
    expect(schedule?.startAt).toBeNull();

    const memberArgs = expandExecStart(unitKeys(read('syncplay-member.service')).get('ExecStart')![0]!, env);
    // The member finds its leader by itself (empty address and party) and keeps its pairing in the state dir.
    expect(parseWith('member', memberArgs.slice(2))).toMatchObject({ ip: '', party: '', stateDir: '/var/lib/syncplay', musicDir: '/srv/music', audioDevice: 'alsa/default' });
  });
});

/** Key → values of a unit file (continuation lines joined, comments dropped). */
function unitKeys(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const joined = text.replace(/\\\n\s*/g, ' ');
  for (const line of joined.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const values = ['After', 'Wants', 'Environment'].includes(m[1]!) ? m[2]!.split(/\s+/) : [m[2]!];
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), ...values]);
  }
  return out;
}

/** systemd's EnvironmentFile= rules for the simple cases used here: NAME=value, "quoted". */
function parseEnvironmentFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not an assignment: ${line}`);
    const v = m[2]!;
    env.set(m[1]!, /^".*"$|^'.*'$/.test(v) ? v.slice(1, -1) : v);
  }
  return env;
}

/** ExecStart expansion: ${NAME} is one word, $NAME splits at whitespace (systemd.service(5)). */
function expandExecStart(line: string, env: Map<string, string>): string[] {
  const words: string[] = [];
  for (const word of line.trim().split(/\s+/)) {
    const split = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (split) {
      words.push(...(env.get(split[1]!) ?? '').split(/\s+/).filter(Boolean));
      continue;
    }
    words.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => env.get(name) ?? ''));
  }
  return words;
}

/** Parses `args` with syncplay's own command line definition, returning the options instead of running. */
function parseWith(command: 'leader' | 'member', args: string[]): Record<string, unknown> {
  const program = buildProgram();
  program.exitOverride();
  let opts: Record<string, unknown> | null = null;
  for (const c of program.commands as Command[]) {
    c.exitOverride();
    if (c.name() === command) c.action((o: Record<string, unknown>) => void (opts = o));
  }
  program.parse(['node', 'syncplay', command, ...args]);
  if (!opts) throw new Error(`${command} did not parse`);
  return opts;
}
