import { describe, expect, it } from 'vitest';
import { Spake2, confirmationsMatch, passwordScalar } from '../../src/party/spake2.js';

const run = (codeA: string, codeB: string) => {
  const a = new Spake2('A', passwordScalar('party1', codeA), 'kitchen', 'party1');
  const b = new Spake2('B', passwordScalar('party1', codeB), 'kitchen', 'party1');
  return { a, b, ka: a.finish(b.message), kb: b.finish(a.message) };
};

describe('SPAKE2 over ristretto255', () => {
  it('agrees on a key and confirms both ways when both hold the same code', () => {
    const { ka, kb } = run('12345678', '12345678');
    expect(ka.ke.equals(kb.ke)).toBe(true);
    expect(confirmationsMatch(kb.theirConfirm, ka.myConfirm.toString('hex'))).toBe(true);
    expect(confirmationsMatch(ka.theirConfirm, kb.myConfirm.toString('hex'))).toBe(true);
  });

  it('fails confirmation both ways with a different code', () => {
    const { ka, kb } = run('12345678', '12345679');
    expect(ka.ke.equals(kb.ke)).toBe(false);
    expect(confirmationsMatch(kb.theirConfirm, ka.myConfirm.toString('hex'))).toBe(false);
    expect(confirmationsMatch(ka.theirConfirm, kb.myConfirm.toString('hex'))).toBe(false);
  });

  it('uses fresh randomness every run: messages and keys never repeat for the same code', () => {
    const one = run('12345678', '12345678');
    const two = run('12345678', '12345678');
    expect(one.a.message.equals(two.a.message)).toBe(false);
    expect(one.b.message.equals(two.b.message)).toBe(false);
    expect(one.ka.ke.equals(two.ka.ke)).toBe(false);
    // A confirmation recorded from one run does not confirm another.
    expect(confirmationsMatch(two.kb.theirConfirm, one.ka.myConfirm.toString('hex'))).toBe(false);
  });

  it('binds the names: the same code between other parties gives other keys', () => {
    const a = new Spake2('A', passwordScalar('party1', '12345678'), 'kitchen', 'party1');
    const b = new Spake2('B', passwordScalar('party1', '12345678'), 'porch', 'party1');
    expect(confirmationsMatch(b.finish(a.message).theirConfirm, a.finish(b.message).myConfirm.toString('hex'))).toBe(false);
  });

  it('refuses messages that are not group elements', () => {
    const b = new Spake2('B', passwordScalar('p', '12345678'), 'a', 'p');
    expect(() => b.finish(Buffer.alloc(31))).toThrow(/32 bytes/);
    expect(() => b.finish(Buffer.alloc(32, 0xff))).toThrow();
  });
});
