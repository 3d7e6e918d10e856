import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NTP_UNIX_OFFSET_S,
  NtpError,
  createRequest,
  decodePacket,
  encodePacket,
  ntpToUnixMs,
  referenceIdAscii,
  sntpQuery,
  unixMsToNtp,
  validateReply,
  type NtpPacket,
  type NtpTimestamp,
  type ResolvedServer,
} from '../../src/clock/sntp-client.js';
import { monotonicMs } from '../../src/clock/monotonic.js';

const TWO_32 = 2 ** 32;
const ascii = (s: string): number => ((s.charCodeAt(0) << 24) | (s.charCodeAt(1) << 16) | (s.charCodeAt(2) << 8) | s.charCodeAt(3)) >>> 0;

describe('NTP timestamps', () => {
  it('maps the NTP and Unix epochs', () => {
    expect(ntpToUnixMs({ seconds: NTP_UNIX_OFFSET_S, fraction: 0 }, 0)).toBe(0);
    expect(unixMsToNtp(0)).toEqual({ seconds: NTP_UNIX_OFFSET_S, fraction: 0 });
    // 2024-01-01T00:00:00.5Z
    const ms = Date.UTC(2024, 0, 1, 0, 0, 0, 500);
    const ts = unixMsToNtp(ms);
    expect(ts.seconds).toBe(ms / 1000 - 0.5 + NTP_UNIX_OFFSET_S);
    expect(ts.fraction).toBe(TWO_32 / 2);
    expect(ntpToUnixMs(ts, ms)).toBe(ms);
  });

  it('round-trips with sub-microsecond precision', () => {
    const base = Date.UTC(2025, 5, 15, 12, 0, 0);
    for (const extra of [0, 0.000_25, 0.123_456, 999.999_7, 123_456.789_012]) {
      const ms = base + extra;
      expect(Math.abs(ntpToUnixMs(unixMsToNtp(ms), base) - ms)).toBeLessThan(0.001);
    }
  });

  it('handles the 2036 era rollover by the pivot', () => {
    // 2036-02-07T06:28:16Z is NTP second 2^32, i.e. era 1 second 0.
    const rollover = (TWO_32 - NTP_UNIX_OFFSET_S) * 1000;
    expect(new Date(rollover).toISOString()).toBe('2036-02-07T06:28:16.000Z');
    const justAfter = rollover + 1500;
    const ts = unixMsToNtp(justAfter);
    expect(ts.seconds).toBe(1); // wrapped on the wire
    expect(ts.fraction).toBe(TWO_32 / 2);
    expect(ntpToUnixMs(ts, rollover - 10_000)).toBe(justAfter); // pivot slightly before: still era 1
    const justBefore = rollover - 1500;
    expect(unixMsToNtp(justBefore).seconds).toBe(TWO_32 - 2);
    expect(ntpToUnixMs(unixMsToNtp(justBefore), rollover + 10_000)).toBe(justBefore); // era 0
    // A pivot in the 2020s still decodes 2020s timestamps in era 0.
    const now = Date.UTC(2026, 10, 21);
    expect(ntpToUnixMs(unixMsToNtp(now), now)).toBe(now);
  });
});

describe('packet encode/decode', () => {
  it('encodes a 48-byte client request with LI 0, VN 4, mode 3 and the nonce as transmit timestamp', () => {
    const nonce = { seconds: 0x12345678, fraction: 0x9abcdef0 };
    const { packet } = createRequest(nonce);
    expect(packet.length).toBe(48);
    expect(packet[0]).toBe(0x23);
    expect(packet.subarray(1, 40).every((b) => b === 0)).toBe(true);
    expect(packet.readUInt32BE(40)).toBe(0x12345678);
    expect(packet.readUInt32BE(44)).toBe(0x9abcdef0);
  });

  it('uses a fresh random nonce per request', () => {
    const a = createRequest().nonce;
    const b = createRequest().nonce;
    expect(a).not.toEqual(b);
  });

  it('round-trips every header field, including signed poll/precision and root delay', () => {
    const p: NtpPacket = {
      leap: 2,
      version: 3,
      mode: 4,
      stratum: 2,
      poll: 6,
      precision: -24,
      rootDelayMs: -1.5, // signed 16.16
      rootDispersionMs: 1234.5,
      referenceId: 0xc0a80101,
      referenceTimestamp: { seconds: 1, fraction: 2 },
      originTimestamp: { seconds: 3, fraction: 4 },
      receiveTimestamp: { seconds: 0xfffffffe, fraction: 0xffffffff },
      transmitTimestamp: { seconds: 7, fraction: 8 },
    };
    const buf = encodePacket(p);
    expect(buf[0]).toBe((2 << 6) | (3 << 3) | 4);
    const back = decodePacket(buf);
    // 16.16 seconds: 1/65536 s ≈ 0.015 ms resolution.
    expect(Math.abs(back.rootDelayMs + 1.5)).toBeLessThan(0.016);
    expect(back.rootDelayMs).toBeLessThan(0);
    expect(Math.abs(back.rootDispersionMs - 1234.5)).toBeLessThan(0.016);
    expect({ ...back, rootDelayMs: 0, rootDispersionMs: 0 }).toEqual({ ...p, rootDelayMs: 0, rootDispersionMs: 0 });
  });

  it('ignores extension fields after the header and rejects short packets', () => {
    const buf = Buffer.concat([encodePacket({ mode: 4, stratum: 3 }), Buffer.alloc(20, 0xff)]);
    expect(decodePacket(buf).stratum).toBe(3);
    expect(() => decodePacket(Buffer.alloc(47))).toThrow(/too short/);
  });

  it('reads reference IDs and kiss codes as ASCII', () => {
    expect(referenceIdAscii(ascii('RATE'))).toBe('RATE');
    expect(referenceIdAscii(ascii('GPS\0'))).toBe('GPS');
  });
});

describe('reply validation', () => {
  const nonce: NtpTimestamp = { seconds: 111, fraction: 222 };
  const good = (over: Partial<NtpPacket> = {}): NtpPacket =>
    decodePacket(
      encodePacket({
        leap: 0,
        version: 4,
        mode: 4,
        stratum: 2,
        originTimestamp: nonce,
        receiveTimestamp: unixMsToNtp(Date.now()),
        transmitTimestamp: unixMsToNtp(Date.now() + 0.01),
        ...over,
      }),
    );
  const codeOf = (p: NtpPacket): string | undefined => {
    try {
      validateReply(p, nonce);
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(NtpError);
      return `${(e as NtpError).code}${(e as NtpError).kissCode ? `:${(e as NtpError).kissCode}` : ''}`;
    }
  };

  it('accepts a proper server reply (v3 or v4)', () => {
    expect(codeOf(good())).toBeUndefined();
    expect(codeOf(good({ version: 3 }))).toBeUndefined();
  });

  it('rejects wrong mode, version and origin', () => {
    expect(codeOf(good({ mode: 3 }))).toBe('INVALID');
    expect(codeOf(good({ mode: 5 }))).toBe('INVALID');
    expect(codeOf(good({ version: 0 }))).toBe('INVALID');
    expect(codeOf(good({ originTimestamp: { seconds: 111, fraction: 223 } }))).toBe('INVALID');
  });

  it('recognises kiss-o-death packets and unsynchronised servers', () => {
    expect(codeOf(good({ stratum: 0, referenceId: ascii('RATE') }))).toBe('KOD:RATE');
    expect(codeOf(good({ stratum: 0, referenceId: ascii('DENY') }))).toBe('KOD:DENY');
    expect(codeOf(good({ leap: 3 }))).toBe('UNSYNCHRONIZED');
    expect(codeOf(good({ stratum: 16 }))).toBe('UNSYNCHRONIZED');
  });

  it('rejects empty receive/transmit timestamps', () => {
    expect(codeOf(good({ receiveTimestamp: { seconds: 0, fraction: 0 } }))).toBe('INVALID');
    expect(codeOf(good({ transmitTimestamp: { seconds: 0, fraction: 0 } }))).toBe('INVALID');
  });
});

describe('sntpQuery against a scripted UDP server', () => {
  const sockets: dgram.Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  /** A loopback UDP server answering each request with reply(request) (or nothing). */
  async function server(reply: (req: NtpPacket) => Buffer[] | null): Promise<ResolvedServer> {
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    s.on('message', (msg, rinfo) => {
      const out = reply(decodePacket(msg));
      for (const b of out ?? []) s.send(b, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const port = s.address().port;
    return { host: '127.0.0.1', port, address: '127.0.0.1', family: 4 };
  }

  /** A server whose clock is Date.now() + offsetMs (ms resolution is plenty here). */
  const serverReply =
    (offsetMs: number, over: Partial<NtpPacket> = {}) =>
    (req: NtpPacket): Buffer[] => {
      const t = Date.now() + offsetMs;
      return [
        encodePacket({
          version: 4,
          mode: 4,
          stratum: 3,
          precision: -20,
          originTimestamp: req.transmitTimestamp,
          receiveTimestamp: unixMsToNtp(t),
          transmitTimestamp: unixMsToNtp(t + 0.05),
          ...over,
        }),
      ];
    };

  it('returns T1/T4 on the given clock and T2/T3 as the server’s Unix ms', async () => {
    const srv = await server(serverReply(86_400_000));
    const x = await sntpQuery({ server: srv, timeoutMs: 1000, now: monotonicMs });
    expect(x.t4).toBeGreaterThanOrEqual(x.t1);
    expect(x.t1).toBeLessThan(1e12); // monotonic, not wall clock
    expect(x.t3 - x.t2).toBeCloseTo(0.05, 3);
    expect(Math.abs(x.t2 - (Date.now() + 86_400_000))).toBeLessThan(1000);
    expect(x.rttMs).toBeGreaterThanOrEqual(0);
    expect(x.stratum).toBe(3);
    expect(x.precision).toBe(-20);
  });

  it('skips a stray reply that does not answer the request and takes the real one', async () => {
    const srv = await server((req) => {
      const [real] = serverReply(0)(req);
      const stray = encodePacket({ ...decodePacket(real!), originTimestamp: { seconds: 1, fraction: 1 } });
      return [stray, real!];
    });
    const x = await sntpQuery({ server: srv, timeoutMs: 1000, now: monotonicMs });
    expect(x.stratum).toBe(3);
  });

  it('reports kiss-o-death with its code', async () => {
    const srv = await server(serverReply(0, { stratum: 0, referenceId: ascii('RSTR') }));
    const err = await sntpQuery({ server: srv, timeoutMs: 1000, now: monotonicMs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NtpError);
    expect((err as NtpError).code).toBe('KOD');
    expect((err as NtpError).kissCode).toBe('RSTR');
    expect((err as NtpError).message).toMatch(/refuses/);
  });

  it('times out on a server that never answers, naming it', async () => {
    const srv = await server(() => null);
    const t0 = monotonicMs();
    const err = await sntpQuery({ server: srv, timeoutMs: 300, now: monotonicMs }).catch((e: unknown) => e);
    expect(monotonicMs() - t0).toBeGreaterThanOrEqual(290);
    expect((err as NtpError).code).toBe('TIMEOUT');
    expect((err as NtpError).message).toContain(`127.0.0.1:${srv.port}`);
  });

  it('says connection refused at once when nothing listens', async () => {
    const srv = await server(() => null);
    const port = srv.port;
    sockets.splice(0).forEach((s) => s.close());
    await new Promise((r) => setTimeout(r, 20));
    const t0 = monotonicMs();
    const err = await sntpQuery({ server: { ...srv, port }, timeoutMs: 2000, now: monotonicMs }).catch(
      (e: unknown) => e,
    );
    expect((err as NtpError).code).toBe('REFUSED');
    expect(monotonicMs() - t0).toBeLessThan(1000);
  });

  it('rejects a reply whose transmit timestamp precedes its receive timestamp', async () => {
    const srv = await server((req) => {
      const t = Date.now();
      return [
        encodePacket({
          mode: 4,
          stratum: 2,
          originTimestamp: req.transmitTimestamp,
          receiveTimestamp: unixMsToNtp(t + 10),
          transmitTimestamp: unixMsToNtp(t),
        }),
      ];
    });
    const err = await sntpQuery({ server: srv, timeoutMs: 300, now: monotonicMs }).catch((e: unknown) => e);
    expect((err as NtpError).code).toBe('INVALID');
    expect((err as NtpError).message).toMatch(/inconsistent/);
  });
});
