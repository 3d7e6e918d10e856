import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveKey, loadOrCreatePartySecret, loadPartySecret, loadPartySecretFile, partyIdOf, partySecretPath } from '../../src/party/party-secret.js';

describe('party secret', () => {
  const dirs: string[] = [];
  const fresh = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'syncplay-secret-'));
    dirs.push(d);
    return join(d, 'state');
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is created once, 0600 in a 0700 folder, with 256 random bits, and read back unchanged', () => {
    const dir = fresh();
    expect(loadPartySecret(dir)).toBeNull();
    const first = loadOrCreatePartySecret(dir);
    expect(first.created).toBe(true);
    expect(Buffer.from(first.secret, 'base64url')).toHaveLength(32);
    expect(statSync(partySecretPath(dir)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const again = loadOrCreatePartySecret(dir);
    expect(again.created).toBe(false);
    expect(again.secret).toBe(first.secret);
    expect(again.id).toBe(first.id);
    expect(loadOrCreatePartySecret(fresh()).secret).not.toBe(first.secret);
  });

  it('derives a public id and per-purpose keys one-way', () => {
    const id = partyIdOf('s3cret-s3cret');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(id).toBe(partyIdOf('s3cret-s3cret'));
    expect(id).not.toBe(partyIdOf('s3cret-s3creT'));
    const web = deriveKey('s3cret-s3cret', 'web-token');
    expect(web).toHaveLength(32);
    expect(web.equals(deriveKey('s3cret-s3cret', 'message-auth'))).toBe(false);
    expect(web.toString('hex')).not.toContain(Buffer.from('s3cret').toString('hex'));
  });

  it('reads a --secret-file and refuses an empty one', () => {
    const dir = fresh();
    loadOrCreatePartySecret(dir);
    const file = join(dir, 'scripted');
    writeFileSync(file, 'a scripted secret\nignored\n', { mode: 0o600 });
    expect(loadPartySecretFile(file).secret).toBe('a scripted secret');
    writeFileSync(file, '\n', { mode: 0o600 });
    expect(() => loadPartySecretFile(file)).toThrow(/at least 8 characters/);
    expect(readFileSync(partySecretPath(dir), 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });
});
