/**
 * Web remote benchmark: a real leader (--web 0) with two mpv members (--ao=null) playing the
 * bundled playlist, and the remote open in headless chromium at phone size. Measures:
 *   - page weight: bytes of every response of one cold load (page, script, style, first API call);
 *   - time to first render: navigation start → the first state drawn (a performance mark the page
 *     sets), and first contentful paint, over --loads fresh page loads;
 *   - event latency: a command sent to the control socket (as `syncplay ctl play N` would) → the
 *     page's title changed (a MutationObserver's timestamp), over --events commands. Both ends read
 *     the wall clock through performance.timeOrigin + performance.now() on this one machine;
 *   - playlist search: `tracks` with a query over synthetic playlists of --tracks sizes (in-process).
 *
 *   node dist/bench/web-bench.js [--loads 20] [--events 40] [--tracks 10000,100000] [--out DIR]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../src/cli/ctl-command.js';
import type { LeaderStatus } from '../src/leader/leader.js';
import type { Track } from '../src/protocol/index.js';
import { searchTracks } from '../src/web/view.js';
import { launchBrowser, PHONE } from './browser.js';
import { killChildrenNow, sleep, spawnChild, stopChild, type Child } from './child-processes.js';
import { seededRandom } from './seeded-random.js';
import { benchArgs, numberOption } from './args.js';
import { formatStats, stats, type Stats } from './stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const { values: v } = benchArgs('node dist/bench/web-bench.js [options]', {
    loads: { type: 'string', value: 'n', help: 'cold page loads (default 20)' },
    events: { type: 'string', value: 'n', help: 'commands whose arrival on the page is timed (default 40)' },
    tracks: { type: 'string', value: 'n,…', help: 'library sizes for the search timing (default 10000,100000)' },
    out: { type: 'string', value: 'dir', help: 'results directory (default bench/results/web-<time>)' },
  });
  const loads = Math.max(1, numberOption('--loads', v.loads, 20));
  const events = Math.max(1, numberOption('--events', v.events, 40));
  const sizes = (v.tracks ?? '10000,100000').split(',').map(Number).filter((n) => n > 0);
  const out = resolve(v.out ?? join(root, 'bench', 'results', `web-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-web-bench-'));
  const sock = join(tmp, 'leader.sock');
  const kids: Child[] = [];
  const bin = join(root, 'bin', 'syncplay');
  process.on('exit', killChildrenNow);
  const load0 = loadavg()[0]!;

  try {
    // 1. A party: leader with the web remote on a free port, two members.
    const leaderLog = join(tmp, 'leader.log');
    kids.push(spawnChild('leader', [bin, 'leader', '--music-dir', 'playlists', '--host', '127.0.0.1', '--port', '0', '--no-ui', '--socket', sock, '--open', '--no-advertise', '--state-dir', join(tmp, 'state'), '--web', '0'], leaderLog, { cwd: root }));
    const url = await waitFor('the web remote link', () => readFileSync(leaderLog, 'utf8').match(/web remote: (http:\/\/\S+)/)?.[1]);
    const status = async (): Promise<LeaderStatus> => (await sendControl({ cmd: 'status', tracks: true }, sock)).status as LeaderStatus;
    const port = (await status()).listening.port;
    for (const name of ['m1', 'm2']) {
      kids.push(spawnChild(name, [bin, 'member', '--ip', '127.0.0.1', '--port', String(port), '--music-dir', 'playlists', '--name', name, '--mpv-arg=--ao=null'], join(tmp, `${name}.log`), { cwd: root }));
    }
    await waitFor('both members with a clock estimate', async () => (await status()).members.filter((m) => m.connected && m.rttMs !== null).length === 2);
    await sendControl({ cmd: 'repeat', mode: 'all' }, sock);
    await sendControl({ cmd: 'play' }, sock);
    process.stderr.write(`party up; web remote ${url.replace(/token=.*/, 'token=…')}\n`);

    const tb = await launchBrowser();
    try {
      // 2. Page weight: one cold load (the link, then the redirect to /).
      const page = await tb.browser.newPage();
      await page.setViewport(PHONE);
      const bytes = new Map<string, number>();
      page.on('response', (r) => {
        const path = new URL(r.url()).pathname;
        if (path.endsWith('/events')) return; // the stream never ends
        void r.buffer().then(
          (b) => bytes.set(`${r.request().method()} ${path}${r.status() === 303 ? ' (303)' : ''}`, (bytes.get(path) ?? 0) + b.length),
          () => {},
        );
      });
      await page.goto(url);
      await page.waitForSelector('body[data-ready]');
      await page.waitForFunction(() => document.querySelectorAll('#tracks button.track').length > 0);
      await sleep(300);
      const weight = Object.fromEntries(bytes);
      const pageBytes = ['GET /', 'GET /app.js', 'GET /style.css'].reduce((a, k) => a + (weight[k] ?? 0), 0);
      const totalBytes = Object.values(weight).reduce((a, b) => a + b, 0);
      process.stderr.write(`page weight: ${pageBytes} bytes (HTML + JS + CSS); first load with API calls ${totalBytes} bytes: ${JSON.stringify(weight)}\n`);

      // 3. Time to first render, warm browser, fresh page each time (the cookie is set).
      const ready: number[] = [];
      const fcp: number[] = [];
      for (let i = 0; i < loads; i++) {
        const p = await tb.browser.newPage();
        await p.setViewport(PHONE);
        await p.goto(new URL('/', url).href);
        await p.waitForSelector('body[data-ready]');
        const m = await p.evaluate(() => ({
          ready: performance.getEntriesByName('syncplay-first-state')[0]?.startTime ?? NaN,
          fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        }));
        ready.push(m.ready);
        if (Number.isFinite(m.fcp)) fcp.push(m.fcp);
        await p.close();
      }
      process.stderr.write(`first state drawn: ${formatStats(stats(ready))} ms; first contentful paint ${formatStats(stats(fcp))} ms\n`);

      // 4. Event latency: ctl command → the page's title changes.
      await page.evaluate(() => {
        const w = window as unknown as { titleChanges: { text: string; at: number }[] };
        w.titleChanges = [];
        const title = document.getElementById('title')!;
        new MutationObserver(() => w.titleChanges.push({ text: title.textContent ?? '', at: performance.timeOrigin + performance.now() })).observe(title, { childList: true, characterData: true, subtree: true });
      });
      const latencies: number[] = [];
      const tracks = (await status()).tracks;
      let current = (await status()).playhead.trackIndex;
      for (let i = 0; i < events; i++) {
        const next = (current + 1) % tracks.length;
        const before = await page.evaluate(() => (window as unknown as { titleChanges: unknown[] }).titleChanges.length);
        const sentAt = performance.timeOrigin + performance.now();
        const reply = await sendControl({ cmd: 'play', track: next + 1 }, sock);
        if (!reply.ok) throw new Error(`play ${next + 1}: ${String(reply.error)}`);
        const seen = await waitFor(
          'the title to change',
          () => page.evaluate((from, want) => (window as unknown as { titleChanges: { text: string; at: number }[] }).titleChanges.slice(from).find((c) => c.text === want)?.at, before, tracks[next]!.title),
          5000,
        );
        latencies.push(seen - sentAt);
        current = next;
        await sleep(150 + (i % 5) * 37); // not in step with the 100 ms tick
      }
      process.stderr.write(`event latency (command → page): ${formatStats(stats(latencies))} ms\n`);

      // 5. Playlist search on big synthetic playlists.
      const rnd = seededRandom(12);
      const words = ['night', 'harbour', 'paper', 'morning', 'lantern', 'drift', 'blue', 'river', 'echo', 'summer'];
      const search: Record<number, Stats> = {};
      for (const n of sizes) {
        const list: Track[] = Array.from({ length: n }, (_, i) => ({
          path: `Artist ${i % 500}/Album ${i % 50}/${String(i).padStart(6, '0')} ${words[i % 10]} ${words[(i * 7) % 10]}.flac`,
          hash: i.toString(16).padStart(64, '0'),
          durationSec: 120 + (i % 300),
          title: `${words[i % 10]} ${words[(i * 3) % 10]} ${i}`,
          artist: `Artist ${i % 500}`,
        }));
        const times: number[] = [];
        for (let q = 0; q < 50; q++) {
          const query = `${words[Math.floor(rnd() * 10)]} ${Math.floor(rnd() * 500)}`;
          const t0 = performance.now();
          searchTracks(list, { query, limit: 50 });
          times.push(performance.now() - t0);
        }
        search[n] = stats(times);
        process.stderr.write(`tracks search over ${n} tracks: ${formatStats(search[n]!, 2)} ms\n`);
      }

      const summary = { url: url.replace(/token=.*/, 'token=…'), loadAvgStart: load0, loadAvgEnd: loadavg()[0], pageBytes, firstLoadBytes: totalBytes, weight, firstStateMs: stats(ready), fcpMs: stats(fcp), eventLatencyMs: stats(latencies), searchMs: search };
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      process.stdout.write(
        [
          `web remote benchmark (load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)})`,
          `page weight              ${pageBytes} bytes HTML+JS+CSS; ${totalBytes} bytes for the first load with its API calls`,
          `first state drawn        p50/p95/max ${formatStats(stats(ready))} ms (navigation start → first snapshot drawn)`,
          `first contentful paint   p50/p95/max ${formatStats(stats(fcp))} ms`,
          `event latency            p50/p95/max ${formatStats(stats(latencies))} ms (ctl command → page title changed)`,
          ...sizes.map((n) => `tracks search ${String(n).padEnd(10)} p50/p95/max ${formatStats(search[n]!, 2)} ms`),
          `summary: ${join(out, 'summary.json')}`,
        ].join('\n') + '\n',
      );
    } finally {
      await tb.close();
    }
  } finally {
    for (const k of kids.reverse()) await stopChild(k);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`web-bench: ${(e as Error).stack ?? String(e)}\n`);
  killChildrenNow();
  process.exit(1);
});
