import crypto from 'node:crypto';
import { serializeError } from '../common/errors.ts';
import type { KilnEvents } from '../../src-shared/contract.ts';
import type { DailyLog } from './daily-log.ts';

type TaskKind = KilnEvents['datasetTask']['kind'];
type TaskEvent = KilnEvents['datasetTask']['event'];
type Emit = (event: 'datasetTask', payload: KilnEvents['datasetTask']) => void;

export class TaskNotFoundError extends Error {
  override name = 'TaskNotFoundError';
}

interface Task {
  id: string;
  kind: TaskKind;
  controller: AbortController;
  done: Promise<void>;
  key?: string;
}

/**
 * Long dataset jobs (download, import) run in the background: the call that starts one returns its
 * id at once, progress arrives as `datasetTask` events, and the last event is `done` or `error`.
 */
export class TaskManager {
  private readonly tasks = new Map<string, Task>();

  constructor(
    private readonly emit: Emit,
    private readonly log: DailyLog,
  ) {}

  /**
   * Start `work` as a task. With a `key` (what it makes, e.g. a dataset id), a second start while one with that
   * key runs joins it: the caller gets the running task's id and its events, and nothing runs twice.
   */
  start(
    kind: TaskKind,
    work: (onProgress: (e: TaskEvent) => void, signal: AbortSignal) => Promise<unknown>,
    key?: string,
  ): { taskId: string } {
    const running = key === undefined ? undefined : [...this.tasks.values()].find((t) => t.key === key);
    if (running) {
      this.log.info(`task ${running.id}: joined by another caller (${key})`);
      return { taskId: running.id };
    }
    const id = `${kind}-${crypto.randomBytes(6).toString('hex')}`;
    const controller = new AbortController();
    const send = (event: TaskEvent) => this.emit('datasetTask', { taskId: id, kind, event });
    this.log.info(`task ${id}: started`);
    // Start on the next tick so the caller has the id before the first event.
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => work(send, controller.signal))
      .then(
        () => this.log.info(`task ${id}: done`),
        (err: unknown) => {
          const cancelled = controller.signal.aborted;
          const error = cancelled ? { name: 'AbortError', message: `${kind} cancelled` } : serializeError(err);
          if (cancelled) this.log.info(`task ${id}: cancelled`);
          else this.log.error(`task ${id}: failed`, err);
          send({ phase: 'error', error });
        },
      )
      .finally(() => this.tasks.delete(id));
    this.tasks.set(id, { id, kind, controller, done, ...(key !== undefined ? { key } : {}) });
    return { taskId: id };
  }

  cancel(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (!task) throw new TaskNotFoundError(`no running task "${taskId}" (it may have finished already)`);
    task.controller.abort();
  }

  /** Cancel everything and wait for the jobs to clean up (their temp folders). */
  async closeAll(): Promise<void> {
    const all = [...this.tasks.values()];
    for (const t of all) t.controller.abort();
    await Promise.all(all.map((t) => t.done));
  }

  get running(): number {
    return this.tasks.size;
  }
}
