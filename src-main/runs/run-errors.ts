import { UsageError } from '../common/errors.ts';

/** An id that is not a run-folder slug; the CLI exits 2. */
export class InvalidRunIdError extends UsageError {
  override name = 'InvalidRunIdError';
}

/** No run with that id in the store; the CLI exits 2. */
export class RunNotFoundError extends UsageError {
  override name = 'RunNotFoundError';
  constructor(
    readonly id: string,
    home: string,
  ) {
    super(`no run "${id}" in ${home}`);
  }
}

/** Another live process owns the run (trains it), so this one may not train, remove or take it over. */
export class RunLockedError extends Error {
  override name = 'RunLockedError';
  constructor(
    readonly id: string,
    readonly pid: number,
    readonly hostname: string,
    message: string,
  ) {
    super(message);
  }
}

/** run.json exists but is not a valid run record (hand-edited, from an incompatible Kiln, or damaged). */
export class BrokenRunError extends Error {
  override name = 'BrokenRunError';
}
