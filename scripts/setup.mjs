#!/usr/bin/env node
// Makes a fresh checkout runnable: checks Node, installs npm packages when missing, makes sure
// mpv is there (installing it with apt when running as root, otherwise saying how), and builds.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => process.stderr.write(`setup: ${m}\n`);
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
};
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  say(`Node ${process.versions.node} is too old: syncplay needs Node 20 or newer (https://nodejs.org, or \`sudo apt install nodejs\` on Debian 13 / Raspberry Pi OS trixie).`);
  process.exit(1);
}

const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs)) {
  say('installing npm packages');
  // `npm install` rather than `npm ci`: it keeps the lock file's versions, and npm 11 writes lock
  // files without other platforms' optional packages (rollup, esbuild), which `npm ci` then refuses.
  run('npm', ['install', '--no-audit', '--no-fund']);
}

// mpv plays. The tests also use: pulseaudio + parec (the calibration room), chronyd (a loopback NTP
// server), tmux (the terminal-UI test), systemd-analyze (the units) and chromium (the web remote's tests).
// The benchmark (--for-bench) records on a private PulseAudio and runs Snapcast side by side.
const forTests = process.argv.includes('--for-tests');
const forBench = process.argv.includes('--for-bench');
const needed = [['mpv', 'mpv']];
if (forTests) needed.push(['pulseaudio', 'pulseaudio'], ['parec', 'pulseaudio-utils'], ['chronyd', 'chrony'], ['tmux', 'tmux'], ['systemd-analyze', 'systemd'], ['chromium', 'chromium']);
if (forBench) needed.push(['pulseaudio', 'pulseaudio'], ['parec', 'pulseaudio-utils'], ['snapserver', 'snapserver'], ['snapclient', 'snapclient'], ['faketime', 'faketime']);
const missing = [...new Set(needed.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))];
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    say(`installing ${missing.join(' ')} with apt-get`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  } else if (missing.includes('mpv') || missing.includes('systemd')) {
    say(`missing: ${missing.join(' ')}. Install with:  sudo apt install ${missing.join(' ')}   (Debian, Ubuntu, Raspberry Pi OS)`);
    process.exit(1);
  } else {
    say(`the ${forBench ? 'benchmark scenarios' : 'tests'} that need ${missing.join(', ')} will be skipped; to run them:  sudo apt install ${missing.join(' ')}`);
  }
}

say('building');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
run(process.execPath, [join(root, 'scripts', 'bundle-ui.mjs')]);
if (forTests) {
  // The tests are type-checked too (the build covers src/ and bench/ only): a test that no longer
  // matches the types it exercises fails here, not by surprise at run time.
  say('type-checking the tests');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.typecheck.json']);
}
try {
  say(`ready (${execFileSync('mpv', ['--version']).toString().split('\n')[0]})`);
} catch {
  say('ready');
}
