import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatZodError } from '../../src-shared/zod-error.ts';
import { RunRecordSchema, type RunRecord } from '../../src-shared/run-types.ts';
import { createLockFile, holderState, readLockFile, releaseLockFile, removeStaleLock, type LockInfo } from './lock-file.ts';
import { BrokenRunError, RunLockedError, RunNotFoundError } from './run-errors.ts';
import { validateRunId } from './run-id.ts';
import { migrateRunRecord } from './run-migrate.ts';
import { readTextOrNull } from '../common/read-text.ts';

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
export const TRAINER_LOCK = 'trainer.lock';
/** Held for the few milliseconds of a run.json read-modify-write, across processes. */
export const UPDATE_LOCK = '.update.lock';
const UPDATE_LOCK_WAIT_MS = 10_000;
export const TRASH_PREFIX = '.trash-';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One run folder's files, its record read and checked, and the short cross-process lock around
 * run.json read-modify-writes: what the store, the trainer lock and crash recovery all stand on.
 */
export class RunFiles {
  readonly home: string;
  readonly root: string;
  /** Per-run chain of this process's run.json writes, so they queue here instead of polling the file lock. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(home: string) {
    this.home = path.resolve(home);
    this.root = path.join(this.home, 'runs');
  }

  runDir(id: string): string {
    return path.join(this.root, validateRunId(id));
  }
  runFile(id: string): string {
    return path.join(this.runDir(id), RUN_FILE);
  }
  metricsFile(id: string): string {
    return path.join(this.runDir(id), METRICS_FILE);
  }
  checkpointDir(id: string): string {
    return path.join(this.runDir(id), 'checkpoints');
  }
  evalDir(id: string): string {
    return path.join(this.runDir(id), 'eval');
  }
  lockFile(id: string): string {
    return path.join(this.runDir(id), TRAINER_LOCK);
  }
  updateLockFile(id: string): string {
    return path.join(this.runDir(id), UPDATE_LOCK);
  }

  async get(id: string): Promise<RunRecord> {
    const file = this.runFile(id);
    const text = await readTextOrNull(file);
    if (text === null) {
      if (fs.existsSync(this.runDir(id))) throw new BrokenRunError(`${file}: missing (the run folder has no run.json)`);
      throw new RunNotFoundError(id, this.root);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new BrokenRunError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    return this.validate(value, id, true);
  }

  /** Check a record read from disk (BrokenRunError) or about to be written (plain Error: the caller's mistake). */
  validate(value: unknown, id: string, reading = false): RunRecord {
    const file = path.join(this.root, id, RUN_FILE);
    const fail = (message: string) => (reading ? new BrokenRunError(message) : new Error(message));
    const result = RunRecordSchema.safeParse(reading ? migrateRunRecord(value) : value);
    if (!result.success) throw fail(formatZodError(result.error, reading ? file : `run ${id}`));
    if (result.data.id !== id) throw fail(`${file}: id: expected "${id}" (the folder name), got "${result.data.id}"`);
    return result.data;
  }

  lockedError(id: string, info: LockInfo, advice: string): RunLockedError {
    const where = info.hostname === os.hostname() ? '' : ` on host ${info.hostname}`;
    return new RunLockedError(
      id,
      info.pid,
      info.hostname,
      `run ${id} is already being trained by pid ${info.pid}${where} (since ${info.startedAt})${advice}`,
    );
  }

  /** A short cross-process mutex around run.json read-modify-writes; a holder that died is taken over. */
  withUpdateLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const key = validateRunId(id);
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.withFileLock(id, fn));
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  private async withFileLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const dir = this.runDir(id);
    if (!fs.existsSync(dir)) throw new RunNotFoundError(id, this.root);
    const file = path.join(dir, UPDATE_LOCK);
    const deadline = Date.now() + UPDATE_LOCK_WAIT_MS;
    let mine: LockInfo | null = null;
    for (let wait = 1; !mine; wait = Math.min(wait * 2, 50)) {
      mine = await createLockFile(file);
      if (mine) break;
      const held = await readLockFile(file);
      if (held && holderState(held) === 'dead') {
        await removeStaleLock(file, held.raw);
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`run ${id}: ${file} has been held by pid ${held?.info?.pid ?? '?'} for over ${UPDATE_LOCK_WAIT_MS / 1000}s`);
      }
      await sleep(wait + Math.random() * wait);
    }
    try {
      return await fn();
    } finally {
      await releaseLockFile(file, mine);
    }
  }
}
