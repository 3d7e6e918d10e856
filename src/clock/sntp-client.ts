/**
 * A minimal SNTP client (RFC 4330, packet format of RFC 5905) on node:dgram, built for NtpClock.
 *
 * Why not the ntp-time-sync package (0.5): it stamps the client side of an exchange with
 * `new Date()`, i.e. the wall clock, which steps, at 1 ms resolution (its parser also turns the
 * server's timestamps into Dates, dropping everything below the millisecond); its offset formula
 * (|T2 − T1| + |T3 − T4|)/2 with a sign taken from T3 − T4 is wrong whenever the offset is smaller
 * than the one-way delays (exactly the LAN/loopback case); it never checks that the reply answers
 * our request (origin timestamp), ignores kiss-o'-death packets (stratum 0 is accepted as a
 * time source), has no era handling, reads precision as unsigned, drops socket errors (so
 * "connection refused" only shows as a timeout) and caches results in module-global state shared
 * by all instances. A custom port works there ("host:port"), but nothing else we need does.
 *
 * What this client does per exchange:
 * - resolves the server once (resolveNtpServer), then for each request opens a fresh connected
 *   UDP socket (so ICMP "port unreachable" surfaces at once as ECONNREFUSED);
 * - sends a 48-byte mode-3 request whose transmit timestamp is a random 64-bit nonce (as chrony
 *   does; the client's clock is not revealed and not needed), stamping T1 with the caller's
 *   monotonic clock just before send and T4 in the 'message' handler;
 * - validates the reply: length ≥ 48, mode 4, version 1–4, origin = our nonce, kiss-o'-death
 *   (stratum 0 → NtpError 'KOD' with the ASCII kiss code), not unsynchronised (leap 3 or stratum
 *   ≥ 16), receive/transmit timestamps set, T3 ≥ T2 and a non-negative round trip;
 * - converts T2/T3 to Unix ms with era handling (the 32-bit seconds wrap in 2036; the era is
 *   the one that puts the time nearest a coarse pivot, by default Date.now(), which is only used
 *   to pick the 136-year era, never for the measurement).
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 4_294_967_296;
const ERA_MS = TWO_32 * 1000;

/** A 64-bit NTP timestamp: unsigned 32-bit seconds since 1900 (mod 2^32) and 32-bit fraction. */
export interface NtpTimestamp {
  seconds: number;
  fraction: number;
}

export interface NtpPacket {
  /** Leap indicator, 0–3 (3: clock unsynchronised). */
  leap: number;
  version: number;
  /** 3 client, 4 server. */
  mode: number;
  /** 0 kiss-o'-death / unspecified, 1 primary, 2–15 secondary, 16 unsynchronised. */
  stratum: number;
  poll: number;
  /** log2 seconds, signed (e.g. −20 ≈ 1 µs). */
  precision: number;
  /** Signed 16.16 seconds, here in ms. */
  rootDelayMs: number;
  /** Unsigned 16.16 seconds, here in ms. */
  rootDispersionMs: number;
  /** Raw 32-bit reference ID (kiss code when stratum is 0). */
  referenceId: number;
  referenceTimestamp: NtpTimestamp;
  originTimestamp: NtpTimestamp;
  receiveTimestamp: NtpTimestamp;
  transmitTimestamp: NtpTimestamp;
}

const ZERO_TS: NtpTimestamp = { seconds: 0, fraction: 0 };

/**
 * NTP timestamp → Unix ms (float, sub-µs). The era (2^32 s ≈ 136 years) is the one that puts
 * the result nearest pivotUnixMs, so this stays right across the 2036 rollover.
 */
export function ntpToUnixMs(ts: NtpTimestamp, pivotUnixMs: number = Date.now()): number {
  const inEra0 = (ts.seconds - NTP_UNIX_OFFSET_S) * 1000 + (ts.fraction * 1000) / TWO_32;
  const era = Math.round((pivotUnixMs - inEra0) / ERA_MS);
  return inEra0 + era * ERA_MS;
}

/** Unix ms → NTP timestamp (seconds taken mod 2^32, i.e. the era is dropped as on the wire). */
export function unixMsToNtp(unixMs: number): NtpTimestamp {
  const totalS = Math.floor(unixMs / 1000);
  const subMs = unixMs - totalS * 1000;
  let fraction = Math.round((subMs / 1000) * TWO_32);
  let seconds = totalS + NTP_UNIX_OFFSET_S;
  if (fraction >= TWO_32) {
    fraction -= TWO_32;
    seconds += 1;
  }
  seconds = ((seconds % TWO_32) + TWO_32) % TWO_32;
  return { seconds, fraction };
}

export function isZeroTimestamp(ts: NtpTimestamp): boolean {
  return ts.seconds === 0 && ts.fraction === 0;
}

export function sameTimestamp(a: NtpTimestamp, b: NtpTimestamp): boolean {
  return a.seconds === b.seconds && a.fraction === b.fraction;
}

function readTs(buf: Buffer, at: number): NtpTimestamp {
  return { seconds: buf.readUInt32BE(at), fraction: buf.readUInt32BE(at + 4) };
}

function writeTs(buf: Buffer, at: number, ts: NtpTimestamp): void {
  buf.writeUInt32BE(ts.seconds >>> 0, at);
  buf.writeUInt32BE(ts.fraction >>> 0, at + 4);
}

/** Encodes the 48-byte header (no extension fields, no MAC). */
export function encodePacket(p: Partial<NtpPacket>): Buffer {
  const buf = Buffer.alloc(48);
  const leap = p.leap ?? 0;
  const version = p.version ?? 4;
  const mode = p.mode ?? 3;
  buf.writeUInt8(((leap & 3) << 6) | ((version & 7) << 3) | (mode & 7), 0);
  buf.writeUInt8((p.stratum ?? 0) & 0xff, 1);
  buf.writeInt8(p.poll ?? 0, 2);
  buf.writeInt8(p.precision ?? 0, 3);
  buf.writeInt32BE(Math.round(((p.rootDelayMs ?? 0) / 1000) * 65536), 4);
  buf.writeUInt32BE(Math.round(((p.rootDispersionMs ?? 0) / 1000) * 65536) >>> 0, 8);
  buf.writeUInt32BE((p.referenceId ?? 0) >>> 0, 12);
  writeTs(buf, 16, p.referenceTimestamp ?? ZERO_TS);
  writeTs(buf, 24, p.originTimestamp ?? ZERO_TS);
  writeTs(buf, 32, p.receiveTimestamp ?? ZERO_TS);
  writeTs(buf, 40, p.transmitTimestamp ?? ZERO_TS);
  return buf;
}

/** Decodes the 48-byte header; anything after it (extension fields, MAC) is ignored. */
export function decodePacket(buf: Buffer): NtpPacket {
  if (buf.length < 48) throw new NtpError('INVALID', `NTP reply too short (${buf.length} bytes, need 48)`);
  const b0 = buf.readUInt8(0);
  return {
    leap: b0 >> 6,
    version: (b0 >> 3) & 7,
    mode: b0 & 7,
    stratum: buf.readUInt8(1),
    poll: buf.readInt8(2),
    precision: buf.readInt8(3),
    rootDelayMs: (buf.readInt32BE(4) / 65536) * 1000,
    rootDispersionMs: (buf.readUInt32BE(8) / 65536) * 1000,
    referenceId: buf.readUInt32BE(12),
    referenceTimestamp: readTs(buf, 16),
    originTimestamp: readTs(buf, 24),
    receiveTimestamp: readTs(buf, 32),
    transmitTimestamp: readTs(buf, 40),
  };
}

/** The reference ID as 4 ASCII characters (trailing NULs dropped), e.g. the kiss code "RATE". */
export function referenceIdAscii(refId: number): string {
  let s = '';
  for (let shift = 24; shift >= 0; shift -= 8) {
    const c = (refId >>> shift) & 0xff;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? '\0' : '?';
  }
  return s.replace(/\0+$/, '').replace(/\0/g, '?');
}

export type NtpErrorCode =
  | 'DNS' // the host name does not resolve
  | 'REFUSED' // ICMP port unreachable: nothing listens there
  | 'TIMEOUT' // no reply in time
  | 'NETWORK' // other socket error (no route, …)
  | 'KOD' // kiss-o'-death; see kissCode
  | 'UNSYNCHRONIZED' // the server says its own clock is not synchronised
  | 'INVALID'; // a reply that is not a valid answer to our request

export class NtpError extends Error {
  constructor(
    readonly code: NtpErrorCode,
    message: string,
    /** For 'KOD': the kiss code (DENY, RSTR, RATE, …). */
    readonly kissCode?: string,
  ) {
    super(message);
    this.name = 'NtpError';
  }
}

/** A new client request; its transmit timestamp is a random nonce the reply must echo. */
export function createRequest(nonce: NtpTimestamp = randomNonce()): { packet: Buffer; nonce: NtpTimestamp } {
  return { packet: encodePacket({ leap: 0, version: 4, mode: 3, transmitTimestamp: nonce }), nonce };
}

function randomNonce(): NtpTimestamp {
  for (;;) {
    const b = randomBytes(8);
    const ts = readTs(b, 0);
    if (!isZeroTimestamp(ts)) return ts;
  }
}

/**
 * Checks that a decoded reply is a usable answer to the request carrying `nonce` (RFC 4330 §5
 * plus the origin check of RFC 5905). Throws NtpError otherwise.
 */
export function validateReply(p: NtpPacket, nonce: NtpTimestamp): void {
  if (p.mode !== 4) throw new NtpError('INVALID', `NTP reply has mode ${p.mode}, expected 4 (server)`);
  if (p.version < 1 || p.version > 4) throw new NtpError('INVALID', `NTP reply has unsupported version ${p.version}`);
  if (!sameTimestamp(p.originTimestamp, nonce)) {
    throw new NtpError('INVALID', 'NTP reply does not answer our request (origin timestamp mismatch)');
  }
  if (p.stratum === 0) {
    const code = referenceIdAscii(p.referenceId);
    const meaning =
      code === 'DENY' || code === 'RSTR'
        ? 'the server refuses to serve this client'
        : code === 'RATE'
          ? 'the server asks this client to poll less often'
          : 'the server will not serve time now';
    throw new NtpError('KOD', `NTP server sent kiss-o'-death "${code}": ${meaning}`, code);
  }
  if (p.leap === 3 || p.stratum >= 16) {
    throw new NtpError(
      'UNSYNCHRONIZED',
      `NTP server is not synchronised itself (leap indicator ${p.leap}, stratum ${p.stratum})`,
    );
  }
  if (isZeroTimestamp(p.receiveTimestamp) || isZeroTimestamp(p.transmitTimestamp)) {
    throw new NtpError('INVALID', 'NTP reply has an empty receive or transmit timestamp');
  }
}

export interface ResolvedServer {
  host: string;
  port: number;
  address: string;
  family: 4 | 6;
}

/** Resolves host (name or IP literal) once; NtpError 'DNS' when it does not resolve. */
export async function resolveNtpServer(host: string, port: number): Promise<ResolvedServer> {
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return { host, port, address: host, family: literal };
  try {
    const r = await lookup(host);
    return { host, port, address: r.address, family: r.family === 6 ? 6 : 4 };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new NtpError('DNS', `cannot resolve NTP server host "${host}" (${code})`);
  }
}

/** One completed exchange: T1/T4 on the caller's local clock, T2/T3 the server's UTC in Unix ms. */
export interface NtpExchange {
  t1: number;
  t2: number;
  t3: number;
  t4: number;
  /** (T4 − T1) − (T3 − T2). */
  rttMs: number;
  stratum: number;
  leap: number;
  /** Server precision, log2 s. */
  precision: number;
  rootDelayMs: number;
  rootDispersionMs: number;
  /** Reference ID: ASCII for stratum 1, otherwise an IPv4 address or hash, as hex. */
  referenceId: string;
}

export interface SntpQueryOptions {
  server: ResolvedServer;
  timeoutMs: number;
  /** Local clock for T1/T4 (ms). Use a monotonic one. */
  now: () => number;
  /** Coarse Unix ms for era selection only. Default Date.now. */
  pivotUnixMs?: () => number;
}

/** One SNTP exchange with a resolved server. Rejects with NtpError. */
export function sntpQuery(opts: SntpQueryOptions): Promise<NtpExchange> {
  const { server, timeoutMs, now } = opts;
  const where = `${formatHostPort(server.address, server.port)}`;
  return new Promise<NtpExchange>((resolve, reject) => {
    // Kept referenced: a caller awaiting the first sync must keep the process alive. Bounded by timeoutMs.
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    const { packet, nonce } = createRequest();
    let t1 = NaN;
    let done = false;
    let lastInvalid: NtpError | undefined;
    const finish = (err: NtpError | null, result?: NtpExchange): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => {
      const why = lastInvalid ? ` (only an invalid reply: ${lastInvalid.message})` : '';
      finish(lastInvalid ?? new NtpError('TIMEOUT', `no reply from NTP server ${where} within ${timeoutMs} ms${why}`));
    }, timeoutMs);

    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') {
        finish(new NtpError('REFUSED', `connection refused by ${where}: nothing listens on that UDP port`));
      } else {
        finish(new NtpError('NETWORK', `network error talking to NTP server ${where}: ${e.code ?? e.message}`));
      }
    });
    socket.on('message', (msg) => {
      const t4 = now();
      if (done) return;
      try {
        const p = decodePacket(msg);
        validateReply(p, nonce);
        const pivot = (opts.pivotUnixMs ?? Date.now)();
        const t2 = ntpToUnixMs(p.receiveTimestamp, pivot);
        const t3 = ntpToUnixMs(p.transmitTimestamp, pivot);
        const rttMs = t4 - t1 - (t3 - t2);
        if (!(t3 >= t2) || !(rttMs >= 0)) {
          throw new NtpError('INVALID', 'NTP reply has inconsistent timestamps (transmit before receive)');
        }
        finish(null, {
          t1,
          t2,
          t3,
          t4,
          rttMs,
          stratum: p.stratum,
          leap: p.leap,
          precision: p.precision,
          rootDelayMs: p.rootDelayMs,
          rootDispersionMs: p.rootDispersionMs,
          referenceId:
            p.stratum === 1 ? referenceIdAscii(p.referenceId) : p.referenceId.toString(16).padStart(8, '0'),
        });
      } catch (e) {
        const err = e instanceof NtpError ? e : new NtpError('INVALID', String(e));
        // A stray or forged datagram must not end the exchange; a real server's verdict does.
        if (err.code === 'KOD' || err.code === 'UNSYNCHRONIZED') finish(err);
        else lastInvalid = err;
      }
    });
    socket.connect(server.port, server.address, () => {
      if (done) return;
      t1 = now();
      socket.send(packet, (err) => {
        if (err) finish(new NtpError('NETWORK', `cannot send to NTP server ${where}: ${err.message}`));
      });
    });
  });
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
