/** Plain, timestamped log lines on stderr: the headless leader's and the member's output. */
import { escapeText } from './escape.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const order: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  child(prefix: string): Logger;
}

export function createLogger(level: LogLevel = 'info', prefix = '', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const emit = (l: LogLevel, msg: string): void => {
    if (order[l] > order[level]) return;
    const time = new Date().toISOString().slice(11, 23);
    write(`${time} ${l.toUpperCase().padEnd(5)} ${prefix ? `[${escapeText(prefix)}] ` : ''}${escapeText(msg)}`);
  };
  return {
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    child: (p) => createLogger(level, prefix ? `${prefix}/${p}` : p, write),
  };
}

export const silentLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  child: () => silentLogger,
};
