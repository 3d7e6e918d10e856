/**
 * The web remote in a real browser (chromium, phone-sized) against a real leader and real
 * members (mpv --ao=null): what the page shows, and that its buttons drive every member.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio/wav.js';
import { CHROMIUM, launchBrowser, PHONE, type TestBrowser } from '../../bench/browser.js';
import { Cluster, ROOT, memberNamed, sleep, type LeaderHandle } from './harness.js';

const HOSTILE_TITLE = '<img src=x onerror=alert(1)>';
const HOSTILE_NAME = '<b onmouseover=alert(2)>beta';

if (!CHROMIUM) {
  if (process.env.CI) throw new Error('web remote tests need chromium (apt-get install -y chromium)');
  console.warn('web remote browser tests skipped: chromium not found (apt-get install -y chromium)');
}

/** Asks a member's mpv (through the IPC server the test gave it) for a property. */
function mpvProperty(socketPath: string, name: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => (s.destroy(), reject(new Error('mpv did not answer'))), 3000);
    s.on('connect', () => s.write(JSON.stringify({ command: ['get_property', name], request_id: 1 }) + '\n'));
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (const line of buf.split('\n')) {
        try {
          const m = JSON.parse(line) as { request_id?: number; data?: unknown };
          if (m.request_id === 1) {
            clearTimeout(timer);
            s.destroy();
            resolve(m.data);
          }
        } catch {
          /* partial line or event */
        }
      }
    });
    s.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

describe.skipIf(!CHROMIUM)('web remote in a browser', () => {
  const cluster = new Cluster('syncplay-web');
  let leader: LeaderHandle;
  let tb: TestBrowser;
  let page: Page;
  let musicDir: string;
  const dialogs: string[] = [];
  const alphaMpv = join(cluster.tmp, 'alpha-mpv.sock');

  beforeAll(async () => {
    // Track 2 is a plain WAV (no tags) whose playlist title is markup.
    musicDir = cluster.musicDir('music', (dir) => {
      const rate = 44_100;
      const tone = new Float32Array(rate * 20).map((_, i) => 0.1 * Math.sin((2 * Math.PI * 440 * i) / rate));
      writeFileSync(join(dir, 'hostile.wav'), encodeWav(tone, rate));
      const m3u = readFileSync(join(dir, 'example.m3u8'), 'utf8').split('\n');
      const at = m3u.findIndex((l) => l.startsWith('02-'));
      m3u.splice(at - 1, 0, `#EXTINF:20,${HOSTILE_TITLE}`, 'hostile.wav');
      writeFileSync(join(dir, 'example.m3u8'), m3u.join('\n'));
    });
    leader = await cluster.startLeader({ musicDir, web: true });
    await cluster.startMember({ name: 'alpha', musicDir, args: [`--mpv-arg=--input-ipc-server=${alphaMpv}`] });
    await cluster.startMember({ name: HOSTILE_NAME, musicDir });
    tb = await launchBrowser();
    page = await tb.browser.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.setViewport(PHONE);
  });

  afterAll(async () => {
    await tb?.close();
    await cluster.cleanup();
  });

  const base = (): string => new URL(leader.webUrl!).origin;
  const text = (sel: string): Promise<string> => page.$eval(sel, (e) => e.textContent ?? '');
  const rowNames = (): Promise<string[]> => page.$$eval('#members li.member', (lis) => lis.map((li) => (li as HTMLElement).dataset.name ?? ''));

  it('ctl status --json reports the web remote link', async () => {
    const r = await cluster.run(['ctl', '--socket', leader.socket, 'status', '--json']);
    const reply = JSON.parse(r.stdout) as { status: { web: { url: string } | null } };
    expect(reply.status.web?.url).toBe(leader.webUrl);
    expect(leader.webUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
  });

  it('without the token the page and the API are refused', async () => {
    const seqBefore = (await cluster.status()).timeline.seq;
    const res = await page.goto(`${base()}/`);
    expect(res?.status()).toBe(401);
    expect(await page.evaluate(() => document.body.textContent)).toContain('Open the link');
    const api = await page.evaluate(async () => {
      const r = await fetch('/api/v1/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'next' }) });
      return r.status;
    });
    expect(api).toBe(401);
    expect((await cluster.status()).timeline.seq).toBe(seqBefore);
  });

  it('the link opens the remote: every member and the track, the token gone from the address', async () => {
    const started = performance.now();
    await page.goto(leader.webUrl!);
    await page.waitForSelector('body[data-ready]');
    const firstRenderMs = performance.now() - started;
    expect(page.url()).toBe(`${base()}/`);
    await page.waitForFunction((n) => document.querySelectorAll('#members li.member').length === n, {}, 2);
    expect((await rowNames()).sort()).toEqual([HOSTILE_NAME, 'alpha'].sort());
    expect(await text('#title')).toBe('Morning Drift');
    expect(await text('#track-count')).toBe('(4)');
    // The member's name is text, not markup.
    const row = await page.$(`#members li.member[data-name="${HOSTILE_NAME.replace(/"/g, '\\"')}"] .name`);
    expect(await row!.evaluate((e) => [e.textContent, e.querySelector('b')])).toEqual([HOSTILE_NAME, null]);
    console.log(`web remote: first render ${firstRenderMs.toFixed(0)} ms after navigation (loopback)`);
  });

  it('pressing next moves every member to track 2, and a hostile title stays text', async () => {
    await cluster.command({ cmd: 'play' });
    await page.waitForFunction(() => document.querySelector('#play')?.getAttribute('aria-label') === 'Pause', { timeout: 10_000 });
    await page.click('#next');
    const s = await cluster.waitFor('every member on track 2', (st) => st.timeline.trackIndex === 1 && st.members.length === 2 && st.members.every((m) => m.connected && m.trackIndex === 1 && m.playerState === 'playing') && st);
    expect(s.playhead.trackIndex).toBe(1);
    await page.waitForFunction((t) => document.querySelector('#title')?.textContent === t, { timeout: 15_000 }, HOSTILE_TITLE);
    expect(await page.$('#title img, #tracks img, img')).toBeNull();
    const current = await page.$eval('#tracks button[aria-current]', (b) => b.querySelector('.t')?.textContent);
    expect(current).toBe(HOSTILE_TITLE);
    expect(dialogs).toEqual([]);
  });

  it('a volume change on the page reaches the member', async () => {
    const slider = '#members li.member[data-name="alpha"] input.volume';
    await page.$eval(slider, (el) => {
      const input = el as HTMLInputElement;
      input.value = '35';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await cluster.waitFor('alpha at volume 35', (st) => memberNamed(st, 'alpha')?.volume === 35);
    await cluster.poll("alpha's mpv at volume 35", async () => (await mpvProperty(alphaMpv, 'volume')) === 35);
    expect(memberNamed(await cluster.status(), HOSTILE_NAME)?.volume).toBe(100);
  });

  it('the page updates when a member joins and when one is lost', async () => {
    const gamma = await cluster.startMember({ name: 'gamma', musicDir });
    await page.waitForSelector('#members li.member[data-name="gamma"]', { timeout: 15_000 });
    expect(await text('#member-count')).toBe('(3 connected)');
    await gamma.proc.stop();
    await page.waitForSelector('#members li.member.lost[data-name="gamma"]', { timeout: 15_000 });
    expect(await page.$eval('#members li.member[data-name="gamma"] .badge', (e) => e.textContent)).toBe('lost');
    expect(await text('#member-count')).toBe('(2 connected, 1 lost)');
  });

  it('searches the playlist and jumps to a track', async () => {
    // One input event (typing letter by letter would race the list being redrawn per query).
    await page.$eval('#search', (el) => {
      (el as HTMLInputElement).value = 'lantern';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(() => document.querySelectorAll('#tracks button.track').length === 1, { timeout: 15_000 });
    await page.click('#tracks button.track');
    await cluster.waitFor('track 4 playing', (st) => st.timeline.trackIndex === 3 && st.timeline.state === 'playing');
    await page.waitForFunction(() => document.querySelector('#title')?.textContent === 'Paper Lanterns', { timeout: 15_000 });
  });

  it('every control has an accessible name, text has 4.5:1 contrast, and the keyboard works', async () => {
    type Node = { role: string; name?: string; children?: Node[] };
    const snapshot = (await page.accessibility.snapshot({ interestingOnly: true })) as Node | null;
    const unnamed: string[] = [];
    const controls = new Set(['button', 'slider', 'combobox', 'searchbox', 'spinbutton', 'textbox', 'checkbox']);
    let count = 0;
    const walk = (n: Node): void => {
      if (controls.has(n.role)) {
        count++;
        if (!n.name?.trim()) unnamed.push(n.role);
      }
      for (const c of n.children ?? []) walk(c);
    };
    walk(snapshot!);
    expect(count).toBeGreaterThan(10);
    expect(unnamed).toEqual([]);

    // WCAG contrast of every visible text element against its nearest opaque background.
    const low = await page.evaluate(() => {
      const rgb = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]): number => {
        const f = (v: number): number => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const background = (el: Element | null): number[] => {
        for (; el; el = el.parentElement) {
          const c = rgb(getComputedStyle(el).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3]! > 0.9)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const out: string[] = [];
      for (const el of document.querySelectorAll('body *')) {
        const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
        if (!own || !(el as HTMLElement).offsetParent) continue;
        const style = getComputedStyle(el);
        const fg = rgb(style.color);
        const alpha = Number(style.opacity) * (fg[3] ?? 1);
        const bg = background(el);
        const mixed = fg.slice(0, 3).map((v, i) => v * alpha + bg[i]! * (1 - alpha));
        const [a, b] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
        const ratio = (a! + 0.05) / (b! + 0.05);
        if (ratio < 4.5) out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent!.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
      }
      return out;
    });
    expect(low).toEqual([]);

    // Tab order: play → next; a playlist row plays on Enter.
    await page.focus('#play');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('next');
    await page.$eval('#search', (el) => {
      (el as HTMLInputElement).value = '';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(() => document.querySelectorAll('#tracks button.track').length === 4, { timeout: 15_000 });
    await page.focus('#tracks button.track[data-number="1"]');
    await page.keyboard.press('Enter');
    await cluster.waitFor('track 1 playing', (st) => st.timeline.trackIndex === 0 && st.timeline.state === 'playing');
  });

  it('takes a phone screenshot', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    // Once every speaker plays again after the jump (the picture shows a settled party).
    await page.waitForFunction(() => [...document.querySelectorAll('#members li.member:not(.lost) .badge')].every((b) => b.textContent === 'playing'), { timeout: 15_000 });
    await sleep(3000);
    // SYNCPLAY_SCREENSHOT=docs/web-remote-phone.png refreshes the README's picture.
    const file = process.env.SYNCPLAY_SCREENSHOT ? join(ROOT, process.env.SYNCPLAY_SCREENSHOT) : join(cluster.tmp, 'web-remote-phone.png');
    mkdirSync(join(file, '..'), { recursive: true });
    await page.screenshot({ path: file as `${string}.png` });
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
  });
});
