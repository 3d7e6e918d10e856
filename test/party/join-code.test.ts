import { describe, expect, it } from 'vitest';
import { JoinCodes, PAIR_CODE_MAX_FAILURES, PAIR_CODE_TTL_MS, normalizeJoinCode } from '../../src/party/join-code.js';

describe('join codes', () => {
  it('accepts 8 digits with or without a dash or spaces, nothing else', () => {
    expect(normalizeJoinCode(' 1234-5678 ')).toBe('12345678');
    expect(normalizeJoinCode('1234 5678')).toBe('12345678');
    expect(normalizeJoinCode('1234567')).toBeNull();
    expect(normalizeJoinCode('1234-567a')).toBeNull();
  });

  it('expires after its lifetime and is replaced', () => {
    let now = 0;
    const rotations: string[] = [];
    const codes = new JoinCodes((reason) => rotations.push(reason), () => now);
    const first = codes.current();
    expect(first.code).toMatch(/^\d{4}-\d{4}$/);
    expect(first.expiresInSec).toBe(PAIR_CODE_TTL_MS / 1000);
    now = PAIR_CODE_TTL_MS - 1;
    expect(codes.current().code).toBe(first.code);
    now = PAIR_CODE_TTL_MS;
    expect(codes.current().expiresInSec).toBe(PAIR_CODE_TTL_MS / 1000);
    expect(rotations).toEqual(['new', 'the last one expired']);
  });

  it('is replaced after too many failed pairings; failures on an old code do not count', () => {
    const rotations: string[] = [];
    const codes = new JoinCodes((reason) => rotations.push(reason), () => 0);
    const digits = codes.digitsForPairing();
    for (let i = 0; i < PAIR_CODE_MAX_FAILURES - 1; i++) codes.failed(digits);
    expect(codes.digitsForPairing()).toBe(digits);
    codes.failed(digits);
    expect(rotations.at(-1)).toMatch(/failed pairings/);
    const next = codes.digitsForPairing();
    codes.failed(digits);
    expect(codes.digitsForPairing()).toBe(next);
  });
});
