import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveWebToken, storedWebToken, tokenMatches, webToken } from '../../src/web/token.js';

describe('web token', () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'web-token-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is derived from the party secret: stable, not the secret, different per secret', () => {
    const a = deriveWebToken('correct horse battery staple');
    expect(a).toBe(deriveWebToken('correct horse battery staple'));
    expect(a).not.toContain('horse');
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(deriveWebToken('another secret!')).not.toBe(a);
    expect(webToken({ secret: 'correct horse battery staple', file: null })).toEqual({ token: a, source: 'secret' });
  });

  it('without a secret, is generated once and kept 0600 across restarts', () => {
    const file = join(tmp(), 'state', 'web-token');
    const first = storedWebToken(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
    expect(storedWebToken(file)).toBe(first);
    expect(readFileSync(file, 'utf8').trim()).toBe(first);
  });

  it('replaces a malformed stored token', () => {
    const file = join(tmp(), 'web-token');
    writeFileSync(file, '<script>\n');
    const t = storedWebToken(file);
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('compares in constant time and refuses empty or different tokens', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abd')).toBe(false);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
    expect(tokenMatches('abc', '')).toBe(false);
    expect(tokenMatches('abc', undefined)).toBe(false);
  });
});
