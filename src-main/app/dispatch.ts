import { serializeError } from '../common/errors.ts';
import { fsErrorInWords } from '../common/fs-errors.ts';
import { isMethodName, parseArgs, type KilnHandlers, type MethodName } from '../../src-shared/contract.ts';
import type { DailyLog } from './daily-log.ts';
import type { SerializedError } from '../../src-shared/errors.ts';

export type Reply = { result: unknown } | { error: SerializedError };

/** Names of mistakes in the request itself: worth a warning in the log, not a stack. */
const REQUEST_ERRORS = new Set([
  'UnknownMethodError',
  'ValidationError',
  'UsageError',
  'InvalidRunIdError',
  'RunNotFoundError',
  'DatasetNotFoundError',
  'PathNotAllowedError',
  'RunStateError',
  'TaskNotFoundError',
  'RunLockedError',
]);

/**
 * One call from a renderer, whatever the transport: the method must exist, the arguments must
 * pass its schema, and any failure comes back as {name, message} instead of escaping.
 */
export async function dispatch(handlers: KilnHandlers, method: unknown, args: unknown, log?: DailyLog): Promise<Reply> {
  let name: MethodName | undefined;
  try {
    if (!isMethodName(method)) {
      const shown = typeof method === 'string' ? JSON.stringify(method.slice(0, 100)) : typeof method;
      throw Object.assign(new Error(`unknown method ${shown}`), { name: 'UnknownMethodError' });
    }
    name = method;
    const parsed = parseArgs(name, args ?? []);
    const fn = handlers[name] as (...a: unknown[]) => Promise<unknown>;
    const result = await fn(...(parsed as unknown[]));
    return { result: result === undefined ? null : result };
  } catch (err) {
    const error = serializeError(fsErrorInWords(err), name);
    if (REQUEST_ERRORS.has(error.name)) log?.warn(`${name ?? 'call'}: ${error.name}: ${error.message}`);
    else log?.error(`${name ?? 'call'} failed: ${error.message}`, err);
    return { error };
  }
}
