/**
 * Command-line options for the benchmarks: node:util parseArgs (strict: an unknown option or a
 * missing value is an error that shows the usage), a usage text made from the same table, and
 * `--help` / `-h` on every benchmark.
 *
 *   const { values } = benchArgs('node dist/bench/x.js [options]', {
 *     runs: { type: 'string', value: 'n', help: 'rounds (default 3)' },
 *   });
 *   const runs = positiveNumber('--runs', values.runs, 3);
 */
import { parseArgs } from 'node:util';

export interface BenchOption {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** the value's name in the usage text (strings) */
  value?: string;
  /** one line for the usage text */
  help: string;
}

export type BenchOptions = Record<string, BenchOption>;

type Values<O extends BenchOptions> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? (O[K]['multiple'] extends true ? boolean[] : boolean) : O[K]['multiple'] extends true ? string[] : string;
};

/** The usage text: the synopsis, then one line per option. */
export function usageOf(synopsis: string, options: BenchOptions): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
    return [flag, o.help];
  });
  const width = Math.max(0, ...rows.map(([f]) => f!.length)) + 2;
  return [`usage: ${synopsis}`, ...rows.map(([f, h]) => `  ${f!.padEnd(width)}${h}`), `  ${'-h, --help'.padEnd(width)}this text`].join('\n');
}

/**
 * Parses `argv` against `options`. `--help` / `-h` prints the usage and exits 0; an unknown option,
 * a missing value or (without `positionals`) a stray argument throws with the usage.
 */
export function benchArgs<O extends BenchOptions>(synopsis: string, options: O, opts: { argv?: string[]; positionals?: boolean } = {}): { values: Values<O>; positionals: string[]; usage: string } {
  const argv = opts.argv ?? process.argv.slice(2);
  const usage = usageOf(synopsis, options);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage + '\n');
    process.exit(0);
  }
  const config = Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]));
  try {
    const r = parseArgs({ args: argv, options: config, strict: true, allowPositionals: opts.positionals ?? false });
    return { values: r.values as Values<O>, positionals: r.positionals, usage };
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${usage}`);
  }
}

/** A number option: `fallback` when absent, an error naming the flag when not a number ≥ `min` (default: > 0). */
export function numberOption(flag: string, value: string | undefined, fallback: number, min?: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const ok = Number.isFinite(n) && value.trim() !== '' && (min === undefined ? n > 0 : n >= min);
  if (!ok) throw new Error(`${flag} needs a ${min === undefined ? 'positive number' : `number ≥ ${min}`}, got ${value}`);
  return n;
}
