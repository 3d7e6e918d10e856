import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MpvCommandError, MpvIpcClient } from '../../../src/member/mpv/index.js';
import { READING_INSTANT_FRACTION } from '../../../src/member/mpv/ipc-client.js';

/** A fake mpv end: captures written lines, lets the test push lines back. */
function fakeMpv() {
  const written: Array<{ command: unknown[]; request_id: number }> = [];
  let pendingLine = '';
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      pendingLine += chunk.toString('utf8');
      let nl: number;
      while ((nl = pendingLine.indexOf('\n')) >= 0) {
        written.push(JSON.parse(pendingLine.slice(0, nl)));
        pendingLine = pendingLine.slice(nl + 1);
      }
      cb();
    },
  });
  const send = (s: string) => stream.push(s);
  return { stream, written, send };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('MpvIpcClient (fake stream)', () => {
  it('matches replies by request_id, also out of order', async () => {
    const { stream, written, send } = fakeMpv();
    const logs: string[] = [];
    const c = new MpvIpcClient(stream, { log: (m) => logs.push(m) });
    const a = c.getProperty<number>('volume');
    const b = c.getProperty<string>('path');
    await tick();
    expect(written.map((w) => w.command)).toEqual([
      ['get_property', 'volume'],
      ['get_property', 'path'],
    ]);
    const [ra, rb] = written;
    expect(Number.isInteger(ra!.request_id)).toBe(true);
    send(`{"data":"/x.flac","request_id":${rb!.request_id},"error":"success"}\n`);
    send(`{"data":80,"request_id":${ra!.request_id},"error":"success"}\n`);
    expect(await a).toBe(80);
    expect(await b).toBe('/x.flac');
  });

  it('rejects with mpv error string and command', async () => {
    const { stream, written, send } = fakeMpv();
    const c = new MpvIpcClient(stream);
    const p = c.command(['frobnicate', 1]);
    await tick();
    send(`{"request_id":${written[0]!.request_id},"error":"invalid parameter"}\n`);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpvCommandError);
    expect((err as MpvCommandError).mpvError).toBe('invalid parameter');
    expect((err as MpvCommandError).command).toEqual(['frobnicate', 1]);
    expect((err as Error).message).toContain('frobnicate');
    expect((err as Error).message).toContain('invalid parameter');
  });

  it('survives garbage lines, split chunks and throwing listeners', async () => {
    const { stream, written, send } = fakeMpv();
    const logs: string[] = [];
    const c = new MpvIpcClient(stream, { log: (m) => logs.push(m) });
    c.on('idle', () => {
      throw new Error('listener bug');
    });
    const events: string[] = [];
    c.on('event', (e: { event: string }) => events.push(e.event));
    const p = c.getProperty('pause');
    await tick();
    const id = written[0]!.request_id;
    send('this is not json\n');
    send('[1,2,3]\n\n');
    send('{"event":"idle"}\n{"data":fal');
    send(`se,"request_id":${id},"error":"success"}\n`);
    send('{"nonsense":true}\n');
    expect(await p).toBe(false);
    await tick();
    expect(events).toEqual(['idle']);
    expect(logs.some((l) => l.includes('non-JSON'))).toBe(true);
    expect(logs.some((l) => l.includes('listener bug'))).toBe(true);
  });

  it('emits property-change and named events; waitForEvent with predicate', async () => {
    const { stream, written, send } = fakeMpv();
    const c = new MpvIpcClient(stream);
    const obs = c.observeProperty('pause');
    await tick();
    expect(written[0]!.command).toEqual(['observe_property', 1, 'pause']);
    send(`{"request_id":${written[0]!.request_id},"error":"success"}\n`);
    expect(await obs).toBe(1);
    const changes: unknown[] = [];
    c.on('property-change', (name: string, data: unknown) => changes.push([name, data]));
    const ended = c.waitForEvent('end-file', (e) => e.reason === 'eof', 1000);
    const named: unknown[] = [];
    c.on('end-file', (e: unknown) => named.push(e));
    send('{"event":"property-change","id":1,"name":"pause","data":true}\n');
    send('{"event":"end-file","reason":"stop"}\n');
    send('{"event":"end-file","reason":"eof"}\n');
    expect((await ended).reason).toBe('eof');
    expect(changes).toEqual([['pause', true]]);
    expect(named).toHaveLength(2);
  });

  it('times out a request, ignores its late reply, rejects waitForEvent on timeout', async () => {
    const { stream, written, send } = fakeMpv();
    const logs: string[] = [];
    const c = new MpvIpcClient(stream, { timeoutMs: 50, log: (m) => logs.push(m) });
    const err = await c.command(['get_property', 'x']).catch((e: unknown) => e);
    expect((err as MpvCommandError).mpvError).toBe('timeout');
    expect(c.pendingCount).toBe(0);
    send(`{"request_id":${written[0]!.request_id},"error":"success","data":1}\n`);
    await tick();
    expect(logs.some((l) => l.includes('unknown or timed-out'))).toBe(true);
    await expect(c.waitForEvent('seek', undefined, 30)).rejects.toThrow(/timed out/);
  });

  it('rejects all pending requests and waiters when the connection closes', async () => {
    const { stream } = fakeMpv();
    const c = new MpvIpcClient(stream);
    let closed = '';
    c.on('close', (r: string) => (closed = r));
    const a = c.command(['get_property', 'a']).catch((e: unknown) => e);
    const b = c.timedGetProperty('audio-pts').catch((e: unknown) => e);
    const w = c.waitForEvent('idle').catch((e: unknown) => e);
    await tick();
    stream.push(null); // mpv closed its end
    stream.destroy();
    for (const e of [await a, await b]) {
      expect(e).toBeInstanceOf(MpvCommandError);
      expect((e as MpvCommandError).mpvError).toBe('connection closed');
    }
    expect(await w).toBeInstanceOf(Error);
    expect(closed).not.toBe('');
    expect(c.closed).toBe(true);
    await expect(c.command(['quit'])).rejects.toThrow(/closed/);
  });

  it('timedGetProperty stamps the reading late in its round trip, where mpv reads the value', async () => {
    const { stream, written, send } = fakeMpv();
    const c = new MpvIpcClient(stream);
    const p = c.timedGetProperty('audio-pts');
    await new Promise((r) => setTimeout(r, 40));
    const before = Number(process.hrtime.bigint()) / 1e6;
    send(`{"data":12.5,"request_id":${written[0]!.request_id},"error":"success"}\n`);
    const r = await p;
    expect(r.value).toBe(12.5);
    expect(r.rttMs).toBeGreaterThanOrEqual(35);
    expect(r.localMs).toBeLessThan(before);
    // past the midpoint: READING_INSTANT_FRACTION (0.9) of the way from the send to the reply
    expect(r.localMs).toBeGreaterThan(before - r.rttMs / 2);
    expect(READING_INSTANT_FRACTION).toBeGreaterThan(0.5);
    const q = c.timedGetProperty('audio-pts');
    await tick();
    send(`{"data":null,"request_id":${written[1]!.request_id},"error":"success"}\n`);
    await expect(q).rejects.toThrow(/not a number/);
  });
});
