/**
 * The integration tests run `node bin/syncplay`, which loads dist/. Rebuild dist/ as `npm run build`
 * does (tsc, then the terminal UI's bundle) when any source file is newer than the built CLI or the
 * bundle (or they do not exist yet).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): () => void {
  const teardown = (): void => {
    const home = process.env.SYNCPLAY_TEST_HOME;
    if (home) rmSync(home, { recursive: true, force: true });
  };
  const built = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const bundle = join(ROOT, 'dist', 'src', 'leader', 'ui', 'leader-ui.bundle.js');
  const builtAt = existsSync(built) && existsSync(bundle) ? Math.min(statSync(built).mtimeMs, statSync(bundle).mtimeMs) : 0;
  const dirs = ['src', 'bench'].map((d) => join(ROOT, d)).filter((d) => existsSync(d));
  const sourceAt = Math.max(0, ...dirs.map(newestMtime));
  if (builtAt > 0 && builtAt >= sourceAt) return teardown;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (!existsSync(built)) throw new Error(`building dist/ failed:\n${output}`);
    process.stderr.write(`integration setup: tsc reported errors; testing the emitted dist/ anyway:\n${output}\n`);
  }
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle-ui.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`bundling the terminal UI failed:\n${`${b.stdout ?? ''}${b.stderr ?? ''}`.trim()}`);
  return teardown;
}
