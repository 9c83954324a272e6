import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../common/errors.ts';
import { BACKEND_NAMES, BACKENDS, BackendNameSchema, type BackendChoice } from '../../src-shared/backends.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into one-line usage errors (exit 2). */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.replace(/\. To specify.*$/s, '') : String(err));
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
