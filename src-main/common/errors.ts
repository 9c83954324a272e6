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

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) return { name: err.name, message: err.message };
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
