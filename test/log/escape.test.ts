import { describe, expect, it } from 'vitest';
import { escapeLines, escapeText, isPrintable } from '../../src/log/escape.js';
import { createLogger } from '../../src/log/logger.js';
import { memberToLeader, parseLine } from '../../src/protocol/index.js';

describe('escaping text from the network', () => {
  it('escapes ESC, CR, LF, DEL, C1 controls and bidi overrides; keeps ordinary text', () => {
    expect(escapeText('kitchen\x1b[2J\x1b]0;owned\x07')).toBe('kitchen\\x1b[2J\\x1b]0;owned\\x07');
    expect(escapeText('a\r\nb\x7f\x9bc')).toBe('a\\r\\nb\\x7f\\x9bc');
    expect(escapeText('abc\u202edef')).toBe('abc\\u202edef');
    expect(escapeText('Café — 東京 🎵\tx')).toBe('Café — 東京 🎵 x');
    expect(isPrintable('Café')).toBe(true);
    expect(isPrintable('a\x1bb')).toBe(false);
  });

  it('keeps our own line breaks in multi-line output', () => {
    expect(escapeLines('one \x1b[31m\ntwo')).toBe('one \\x1b[31m\ntwo');
  });

  it('the logger escapes every message: a forged log line stays on one line', () => {
    const lines: string[] = [];
    const log = createLogger('info', 'p\x1b', (l) => lines.push(l));
    log.warn('bad input: \x1b[2J\n00:00:00.000 INFO  [leader] fake line');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(lines[0]).toContain('\\x1b[2J\\n00:00:00.000');
  });

  it('a parse error quoting hostile input carries no raw control characters once logged', () => {
    const parsed = parseLine(memberToLeader, '{"type":"\x1b[31mred\x1b[0m"}');
    expect(parsed.ok).toBe(false);
    const lines: string[] = [];
    const log = createLogger('info', '', (l) => lines.push(l));
    if (!parsed.ok) log.warn(parsed.error);
    expect(lines[0]).not.toMatch(/[\x00-\x1f]/);
  });

  it('a hello whose name holds an escape sequence is refused with a reason', () => {
    const parsed = parseLine(memberToLeader, JSON.stringify({ type: 'hello', protocol: 1, name: 'x\x1b[2J', clientNonce: 'n', version: '1' }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/control characters/);
  });
});
