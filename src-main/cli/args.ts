import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../common/errors.ts';
import { BACKEND_NAMES, BACKENDS, BackendNameSchema, type BackendChoice } from '../../src-shared/backends.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export { closest, didYouMean } from '../common/did-you-mean.ts';
import { didYouMean } from '../common/did-you-mean.ts';

/** node:util parseArgs, with its errors turned into one-line usage errors (exit 2) that suggest the closest option. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals, strict: true });
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

/**
 * `--epochs -3` as `--epochs=-3`: parseArgs takes a value starting with a dash for a missing one ("argument is
 * ambiguous"), so a negative number would never reach the range check that says what is expected.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = /^--([^=]+)$/.exec(argv[i]!);
    const next = argv[i + 1];
    if (flag && options[flag[1]!]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]!);
    }
  }
  return out;
}

export function numberFlag(
  name: string,
  value: string | undefined,
  opts: { int?: boolean; min?: number; max?: number } = {},
): number | undefined {
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
export const BACKENDS_HELP = [
  'Backends:',
  ...Object.entries(BACKENDS).map(([name, b]) => `  ${name.padEnd(12)}${b.summary}`),
  `  ${'auto'.padEnd(12)}the fastest that loads here (CUDA first, wasm before cpu), never a software WebGPU adapter`,
].join('\n');

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
