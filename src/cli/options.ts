/** Parsers and defaults shared by the subcommands. */
import { InvalidArgumentError } from 'commander';
import { hostname } from 'node:os';

export const DEFAULT_PORT = 7655;

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 1 to 65535 (0 picks a free one).');
  return n;
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new InvalidArgumentError('give a whole number from 1 to 100000.');
  return n;
}

export function parseMs(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || Math.abs(n) > 60_000) throw new InvalidArgumentError('give milliseconds as a number between -60000 and 60000.');
  return n;
}

export function parsePositiveMs(value: string): number {
  const n = parseMs(value);
  if (n < 0) throw new InvalidArgumentError('must not be negative.');
  return n;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function defaultMemberName(): string {
  return hostname().slice(0, 64) || 'member';
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "500M", "2G", "1.5g", "4096": a size in bytes (binary units; a trailing "B"/"iB" is allowed). */
export function parseByteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isFinite(n) || n > 2 ** 53) throw new InvalidArgumentError('give a size like 500M or 2G (K, M, G, T = 1024, 1024², …).');
  return Math.floor(n);
}
