#!/usr/bin/env node
// Second step of `npm run build` (after tsc): the leader's terminal UI, Ink and React bundled into
// one file, dist/src/leader/ui/leader-ui.bundle.js.
//
// Why: Ink and React are a few hundred ES modules; node resolves, reads and links each one, and
// that cost ~1.1 s of CPU before the UI could draw (one file of the same code: ~0.3 s). Only the
// UI's own folder and its npm packages go in; the rest of syncplay it imports (protocol, format
// helpers of other folders) stays external, by the same relative path — the bundle sits in the
// folder tsc compiled the UI to, so those paths resolve as they do for the compiled files. The
// sources stay the readable TypeScript in src/leader/ui/; the compiled per-file modules are still
// there (tests and the fallback load them).
//
// One change to Ink on the way in (ink/build/output.js): Ink keeps caches of each line's styled
// characters and string widths, but in an Output made anew for every frame, so every line of
// every frame was tokenised again (half of the UI's CPU while playing). The bundle's frames
// share one set of those caches (the cached values are never mutated), started afresh when
// it holds more than SHARED_CACHE_ENTRIES strings.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uiDir = join(root, 'dist', 'src', 'leader', 'ui');
/** lines and strings kept across frames: a screen's worth many times over */
const SHARED_CACHE_ENTRIES = 5000;

/** ink/build/output.js with its per-frame caches shared across frames (see the header). */
async function inkOutputWithSharedCaches(file) {
  const source = await readFile(file, 'utf8');
  const perFrame = 'caches = new OutputCaches();';
  if (!source.includes(perFrame)) throw new Error(`${file}: no "${perFrame}" (Ink changed): update scripts/bundle-ui.mjs`);
  const shared = `
let sharedCaches = null;
function sharedOutputCaches() {
  if (sharedCaches === null || sharedCaches.styledChars.size + sharedCaches.widths.size + sharedCaches.blockWidths.size > ${SHARED_CACHE_ENTRIES}) sharedCaches = new OutputCaches();
  return sharedCaches;
}
`;
  return source.replace(perFrame, 'caches = sharedOutputCaches();') + shared;
}

await build({
  entryPoints: [join(uiDir, 'run-leader-ui.js')],
  outfile: join(uiDir, 'leader-ui.bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // React's production build (the development one checks every render: several times the CPU).
  define: { 'process.env.NODE_ENV': '"production"' },
  // CommonJS packages inside (React) call require() for node's own modules.
  banner: { js: "import { createRequire as __syncplayRequire } from 'node:module';\nconst require = __syncplayRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'syncplay-ui-only',
      setup(b) {
        // syncplay's modules outside the UI folder stay separate modules (shared with the leader).
        b.onResolve({ filter: /^\.\.?\// }, (a) => {
          if (a.importer.includes(`${sep}node_modules${sep}`)) return undefined;
          const target = resolve(a.resolveDir, a.path);
          return relative(uiDir, target).startsWith('..') ? { path: a.path, external: true } : undefined;
        });
        // Ink connects to React DevTools only when DEV=true; that optional package is not installed.
        b.onResolve({ filter: /^\.\/devtools\.js$/ }, (a) => (a.importer.includes(`${sep}ink${sep}`) ? { path: 'ink-devtools', namespace: 'syncplay-empty' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'syncplay-empty' }, () => ({ contents: 'export {};' }));
        b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]output\.js$/ }, async (a) => ({ contents: await inkOutputWithSharedCaches(a.path), loader: 'js' }));
      },
    },
  ],
});
