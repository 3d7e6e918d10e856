import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/logger.js';
import { PartyAccess } from '../../src/party/party-access.js';
import { hiddenClassChanges } from '../hidden-classes.js';

const log = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => log } as unknown as Logger;

describe('PartyAccess.status', () => {
  it('reports the join code, its time left and the paired members, in one hidden class call after call (the leader builds it ten times a second while a web remote is open)', () => {
    const access = new PartyAccess({ name: 'kitchen party', id: 'abc' }, 's'.repeat(43), null, log);
    const reports = Array.from({ length: 100 }, () => access.status()!);
    expect(reports[0]).toEqual({ code: access.codes!.current().code, expiresInSec: expect.any(Number), paired: [] });
    expect(reports[0]!.expiresInSec).toBeGreaterThan(0);
    expect(hiddenClassChanges(reports)).toBe(0);
  });

  it('an open party has no pairing', () => {
    expect(new PartyAccess({ name: 'open', id: null } as never, null, null, log).status()).toBeNull();
  });
});
