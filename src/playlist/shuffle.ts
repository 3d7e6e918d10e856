import { createHash, randomInt } from 'node:crypto';

/** Fisher–Yates with a cryptographic random source: every order equally likely. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Fisher–Yates driven by SHA-256(seed, i): the same seed gives the same order, every order
 * equally likely (48 random bits per step make the modulo bias below 2^-30 for any real playlist).
 */
export function seededShuffle<T>(items: readonly T[], seed: string): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const r = createHash('sha256').update(`${seed}|${i}`).digest().readUIntBE(0, 6);
    const j = r % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
