/**
 * SPAKE2 (RFC 9382) over the prime-order group ristretto255 (RFC 9496), with @noble/curves for
 * the group arithmetic and node:crypto for SHA-512, HMAC and HKDF.
 *
 * Two parties who share a short code w (a scalar hashed from the join code) end with a shared
 * key, and each learns whether the other knew w:
 *   A (member):  x random, X = x·G + w·M      B (leader):  y random, Y = y·G + w·N
 *   A: Z = x·(Y − w·N)                         B: Z = y·(X − w·M)        (both = x·y·G)
 *   TT = len-prefixed(idA, idB, X, Y, Z, w);  Ke ‖ Ka = SHA-512(TT)
 *   KcA ‖ KcB = HKDF-SHA256(Ka, info "ConfirmationKeys");  cA = HMAC(KcA, TT), cB = HMAC(KcB, TT)
 * M and N are points nobody knows a discrete log of (hashed to the curve from fixed strings).
 *
 * Why an eavesdropper cannot guess the code offline: X and Y are uniformly random points
 * whatever w is (x·G masks w·M), so they say nothing about w; to test a guess w' against cA/cB
 * one would need Z = x·y·G from X and Y, the computational Diffie–Hellman problem. An active
 * attacker gets exactly one guess per run: its X* commits to one w0 (X* − w·M = x·G + (w0 − w)·M,
 * and without log(M) it cannot compute y·(w0 − w)·M for any other w), so a failed confirmation
 * rules out one code and nothing else. The leader bounds these online guesses per code.
 * A recorded run cannot be replayed: y (and x) are fresh, so Z, the keys and the confirmations
 * differ every run.
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';

type Point = InstanceType<typeof ristretto255.Point>;
const P = ristretto255.Point;
const ORDER = P.Fn.ORDER;
const DST = 'syncplay-SPAKE2-ristretto255-v1';
const M: Point = ristretto255_hasher.hashToCurve(Buffer.from('syncplay SPAKE2 point M'), { DST });
const N: Point = ristretto255_hasher.hashToCurve(Buffer.from('syncplay SPAKE2 point N'), { DST });

export type Spake2Role = 'A' | 'B';

export interface Spake2Keys {
  /** the shared secret key: used to seal what the leader hands over */
  ke: Buffer;
  /** the confirmation this side sends */
  myConfirm: Buffer;
  /** the confirmation expected from the other side */
  theirConfirm: Buffer;
}

function leBytesToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function bigintTo32LE(n: bigint): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** A uniformly distributed scalar in [1, order): 512 random bits reduced (bias < 2^-250). */
function randomScalar(): bigint {
  for (;;) {
    const s = leBytesToBigint(randomBytes(64)) % ORDER;
    if (s !== 0n) return s;
  }
}

/** The password scalar: SHA-512 of the context and the code, reduced mod the group order. */
export function passwordScalar(context: string, code: string): bigint {
  const s = leBytesToBigint(createHash('sha512').update(`syncplay pairing|${context}|${code}`).digest()) % ORDER;
  return s === 0n ? 1n : s;
}

function lengthPrefixed(parts: Uint8Array[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(p.length));
    chunks.push(len, Buffer.from(p));
  }
  return Buffer.concat(chunks);
}

/** One side of one SPAKE2 run. Use each instance once. */
export class Spake2 {
  private readonly secret = randomScalar();
  /** this side's message (X for A, Y for B), 32 bytes */
  readonly message: Buffer;

  constructor(
    private readonly role: Spake2Role,
    private readonly w: bigint,
    private readonly idA: string,
    private readonly idB: string,
  ) {
    const blind = role === 'A' ? M : N;
    this.message = Buffer.from(P.BASE.multiply(this.secret).add(blind.multiply(w)).toBytes());
  }

  /** Derives the keys from the other side's message; throws if it is not a valid group element. */
  finish(peerMessage: Uint8Array): Spake2Keys {
    if (peerMessage.length !== 32) throw new Error('a SPAKE2 message is 32 bytes');
    const peer = P.fromBytes(peerMessage); // throws on a non-canonical encoding
    const peerBlind = this.role === 'A' ? N : M;
    const z = peer.subtract(peerBlind.multiply(this.w)).multiply(this.secret);
    if (z.is0()) throw new Error('degenerate SPAKE2 message');
    const [x, y] = this.role === 'A' ? [this.message, peerMessage] : [peerMessage, this.message];
    const tt = lengthPrefixed([Buffer.from(this.idA), Buffer.from(this.idB), x, y, z.toBytes(), bigintTo32LE(this.w)]);
    const k = createHash('sha512').update(tt).digest();
    const ke = k.subarray(0, 32);
    const ka = k.subarray(32);
    const kc = Buffer.from(hkdfSync('sha256', ka, Buffer.alloc(0), 'ConfirmationKeys', 64));
    const cA = createHmac('sha256', kc.subarray(0, 32)).update(tt).digest();
    const cB = createHmac('sha256', kc.subarray(32)).update(tt).digest();
    return this.role === 'A' ? { ke, myConfirm: cA, theirConfirm: cB } : { ke, myConfirm: cB, theirConfirm: cA };
  }
}

export function confirmationsMatch(expected: Buffer, given: string): boolean {
  const g = Buffer.from(given, 'hex');
  return g.length === expected.length && timingSafeEqual(g, expected);
}
