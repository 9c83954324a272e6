import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../common/errors.ts';
import { BACKEND_NAMES, BACKENDS, BackendNameSchema, type BackendChoice } from '../../src-shared/backends.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Edit distance (insert, delete, substitute, swap of neighbours), for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` when it is close enough to be a typo (or `word` is a prefix of it). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(w) && w.length >= 2 ? 0.5 : distance(w, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined;
}

/** "; did you mean X?" or nothing. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c ? `; did you mean ${c}?` : '';
}

/** node:util parseArgs, with its errors turned into one-line usage errors (exit 2) that suggest the closest option. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const message = err instanceof Error ? err.message.replace(/\. To specify.*$/s, '') : String(err);
    const unknown = /^Unknown option '(-{1,2})([^'=]+)'/.exec(message);
    if (unknown) {
      const names = Object.keys(options).map((n) => `--${n}`);
      throw new UsageError(`unknown option ${unknown[1]}${unknown[2]}${didYouMean(`--${unknown[2]}`, names)}`);
    }
    throw new UsageError(message);
  }
}

export function numberFlag(name: string, value: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const kind = opts.int ? 'an integer' : 'a number';
  if (value.trim() === '' || !Number.isFinite(n) || (opts.int && !Number.isInteger(n))) {
    throw new UsageError(`--${name}: expected ${kind}, got "${value}"`);
  }
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name}: expected ${kind} ≥ ${opts.min}, got ${value}`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name}: expected ${kind} ≤ ${opts.max}, got ${value}`);
  return n;
}

/** --backend: one of the backend names, or undefined when the flag is absent. */
export function backendFlag(value: string | undefined): BackendChoice | undefined {
  if (value === undefined) return undefined;
  if (!BackendNameSchema.safeParse(value).success) {
    throw new UsageError(`--backend: expected one of ${BACKEND_NAMES.join(', ')}, got "${value}"`);
  }
  return value as BackendChoice;
}

/** `a | b | c` of every backend name, for a --backend line of a help text. */
export const BACKEND_CHOICES = BACKEND_NAMES.join(' | ');

/** A help section naming each backend and what it runs on, from the registry's names. */
export const BACKENDS_HELP = ['Backends:', ...Object.entries(BACKENDS).map(([name, b]) => `  ${name.padEnd(12)}${b.summary}`), `  ${'auto'.padEnd(12)}the fastest that loads here (CUDA first, wasm before cpu), never a software WebGPU adapter`].join('\n');

/** Flags of the commands that load a trained model (export, predict). */
export const MODEL_FLAGS = {
  checkpoint: { type: 'string' },
  backend: { type: 'string' },
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A flag that takes one of a few words, or undefined when absent. */
export function choiceFlag<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name}: expected ${choices.join(' or ')}, got "${value}"`);
  return value as T;
}
