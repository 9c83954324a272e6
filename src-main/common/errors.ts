import { z } from 'zod';
import { formatZodError } from '../../src-shared/zod-error.ts';
import type { SerializedError } from '../../src-shared/errors.ts';

/** A mistake in what the person asked for (a bad flag, an unknown id): the CLI exits 2 with the message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** No dataset with that id in the store; the CLI exits 2 and points to `kiln dataset list`. */
export class DatasetNotFoundError extends UsageError {
  override name = 'DatasetNotFoundError';
}

/** Input data that is not what it should be; the message names the file or field. */
export class DataError extends Error {
  override name = 'DataError';
}

/**
 * Any thrown value as the plain {name, message} that crosses process and IPC boundaries: a ZodError as a
 * ValidationError naming the field (`what` says of what), an Error as itself, a {name, message} object as is.
 */
export function serializeError(err: unknown, what = 'value'): SerializedError {
  if (err instanceof z.ZodError) return { name: 'ValidationError', message: formatZodError(err, what) };
  if (err instanceof Error) return { name: err.name || 'Error', message: err.message || String(err) };
  if (err && typeof err === 'object' && typeof (err as SerializedError).message === 'string') {
    const e = err as SerializedError;
    return { name: typeof e.name === 'string' ? e.name : 'Error', message: e.message };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * A setting that is wrong only once the preset's recipe is merged in (momentum min above the recipe's max): a
 * UsageError that knows its field, so a host can show it at that field as it shows schema errors.
 */
export class ConfigFieldError extends UsageError {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`run config (with the recipe applied): ${path}: ${detail}`);
  }
}
