import os from 'node:os';
import { pidAlive } from './lock-file.ts';
import { RunLockedError } from './run-errors.ts';
import type { RunStore } from './run-store.ts';
import type { RunRecord, RunStatus } from '../../src-shared/run-types.ts';

/** A run in a state that does not allow what was asked (resume a finished run, …). */
export class RunStateError extends Error {
  override name = 'RunStateError';
}

/** Statuses a trainer may pick up again: it continues from `checkpoints/latest` when there is one. */
export const RESUMABLE: readonly RunStatus[] = ['paused', 'interrupted', 'queued', 'failed'];
/** Statuses after which a run is over. */
export const ENDED: readonly RunStatus[] = ['stopped', 'finished', 'diverged'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Check that a run can be resumed now, with a message that says why not. The trainer's lock is
 * what really keeps two trainers off one run; this is for a clear answer before one is started.
 */
export async function resumeRunCheck(store: RunStore, id: string): Promise<RunRecord> {
  const record = await store.get(id);
  const holder = await store.lockHolder(id);
  if (holder?.alive) {
    const where = holder.hostname === os.hostname() ? '' : ` on host ${holder.hostname}`;
    throw new RunLockedError(
      id,
      holder.pid,
      holder.hostname,
      `run ${id} is already being trained by pid ${holder.pid}${where} (since ${holder.startedAt})`,
    );
  }
  if (!RESUMABLE.includes(record.status)) {
    const why = record.status === 'running' ? 'is marked running' : `is ${record.status}`;
    throw new RunStateError(`run ${id} ${why}; only a paused, interrupted, queued or failed run can be resumed`);
  }
  return record;
}

export interface StopResult {
  record: RunRecord;
  /** True when the run had already ended (stopped or finished); nothing changed. */
  already: boolean;
  /** The pid of a trainer that was asked to pause first, if there was one. */
  pausedPid?: number;
}

/**
 * End a run for good: status stopped, endedAt set; its checkpoints stay (for eval and export). A run
 * that a live trainer on this machine is training is first paused through that trainer (SIGTERM: it
 * writes a checkpoint, marks the run paused and exits, and whoever follows it sees the pause), then stopped.
 * A trainer on another host cannot be signalled: refused.
 */
export async function stopRun(
  store: RunStore,
  id: string,
  opts: { timeoutMs?: number; onSignal?: (pid: number) => void } = {},
): Promise<StopResult> {
  let record = await store.get(id);
  if (ENDED.includes(record.status)) return { record, already: true };
  const holder = await store.lockHolder(id);
  let pausedPid: number | undefined;
  if (holder?.alive) {
    if (holder.hostname !== os.hostname()) {
      throw new RunLockedError(
        id,
        holder.pid,
        holder.hostname,
        `run ${id} is being trained on host ${holder.hostname} (pid ${holder.pid}); stop it there`,
      );
    }
    opts.onSignal?.(holder.pid);
    process.kill(holder.pid, 'SIGTERM');
    pausedPid = holder.pid;
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    while (pidAlive(holder.pid) && (await store.lockHolder(id))?.pid === holder.pid) {
      if (Date.now() > deadline)
        throw new RunStateError(
          `run ${id}: trainer pid ${holder.pid} did not pause within ${Math.round((opts.timeoutMs ?? 120_000) / 1000)}s`,
        );
      await sleep(100);
    }
  }
  // Holding the trainer lock while changing the status keeps a resume from starting in between.
  const release = await store.acquireLock(id);
  try {
    let already = false;
    record = await store.update(id, (current) => {
      if (ENDED.includes(current.status)) {
        already = true;
        return null;
      }
      return { status: 'stopped', endedAt: new Date().toISOString() };
    });
    return { record, already, ...(pausedPid !== undefined ? { pausedPid } : {}) };
  } finally {
    await release();
  }
}
