import type { ChildExit } from '../common/child-channel.ts';
import { describeExit, lastStderrLine, looksOutOfMemory } from '../common/process-exit.ts';
import type { SerializedError } from '../../src-shared/errors.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';
import type { RunStore } from '../runs/run-store.ts';
import { describeRunMemory } from './run-memory.ts';

const SETTLED: readonly RunRecord['status'][] = ['paused', 'finished', 'stopped', 'failed', 'diverged'];

/** How a trainer that sent no final message ended, as settleDeadTrainer found and recorded it. */
export type TrainerEnd =
  /** It had settled the run itself; only its last message was lost. */
  | { lost: 'message'; status: RunRecord['status']; error?: SerializedError }
  /** It died: the run is failed with this error (`unrecorded`: why that could not be written). */
  | { lost: 'process'; status: 'failed'; error: SerializedError; unrecorded?: unknown };

/**
 * A trainer ended without its final message ('done' or 'error'); the app, `kiln serve` and `kiln train` all settle
 * it here. A trainer that started and settled the run itself (paused, finished, stopped, failed) wrote that before
 * its last message, which can be lost when the process exits right after sending it (Electron closes a utility
 * process's port on exit): the stored status wins. Otherwise the process died (killed, out of memory, a native
 * crash) and the run is recorded failed with how: an out-of-memory with the model's estimate, since resuming would
 * run out again; any other death with its exit and last words, and that resuming continues from the last checkpoint.
 */
export async function settleDeadTrainer(
  store: RunStore,
  runId: string,
  exit: ChildExit | undefined,
  opts: { started: boolean; killedByHost: boolean },
): Promise<TrainerEnd> {
  const record = await store.get(runId).catch(() => null);
  if (opts.started && record && SETTLED.includes(record.status))
    return { lost: 'message', status: record.status, ...(record.error ? { error: record.error } : {}) };
  const how = describeExit(exit?.code ?? null, exit?.signal ?? null, exit?.detail);
  const last = lastStderrLine(exit?.detail);
  const said = last ? `, last saying "${last}"` : '';
  let error: SerializedError;
  if (looksOutOfMemory(exit, opts.killedByHost)) {
    const oom = exit?.detail?.reason === 'oom' ? 'ran out of memory' : 'was killed, most likely because it ran out of memory';
    const estimate =
      (record && (await describeRunMemory(store.home, record).catch(() => null))) ?? 'the model or its batch is too large for this machine';
    error = {
      name: 'OutOfMemoryError',
      message: `the trainer of run ${runId} ${oom} (${how})${said}; ${estimate}. Resuming would run out again: start a new run with a smaller batch size or a narrower model`,
    };
  } else {
    error = {
      name: 'TrainerCrashedError',
      message: `the trainer of run ${runId} exited unexpectedly (${how})${said}; resume the run to continue from its last checkpoint`,
    };
  }
  try {
    await store.update(runId, { status: 'failed', error, endedAt: new Date().toISOString() });
    return { lost: 'process', status: 'failed', error };
  } catch (err) {
    return { lost: 'process', status: 'failed', error, unrecorded: err };
  }
}
