import { FORK } from '../common/fork-transport.ts';
import type { ChildEnd, Transport } from '../common/child-channel.ts';
import { describeExit, lastStderrLine, looksOutOfMemory } from '../common/process-exit.ts';
import { JOB_CHANNEL, type JobChannel, type JobRequest, type JobResult } from './job-protocol.ts';

export type { JobRequest, JobResult };

export interface JobOptions {
  /** The job's progress events ({type: 'progress', event} from the process), in order. */
  onProgress?: (event: unknown) => void;
  /** Asks the job to stop ({type: 'cancel'}); a job that has not answered within CANCEL_GRACE_MS is killed. */
  signal?: AbortSignal;
}

export type JobRunner = <R extends JobRequest>(request: R, options?: JobOptions) => Promise<JobResult<R>>;

const CANCEL_GRACE_MS = 10_000;

const JOB_NAMES: Record<JobRequest['kind'], string> = {
  lrFind: 'learning-rate finder',
  evaluate: 'evaluation',
  export: 'export',
  predict: 'prediction',
  importFolder: 'folder import',
};

export interface JobLimits {
  /** Heavy jobs running at once; more wait in a queue. */
  maxRunning: number;
  /** Jobs waiting; beyond this a request is refused at once (JobQueueFullError). */
  maxQueued: number;
  /** A job still running after this long is killed (SIGKILL) and rejects with JobTimeoutError. */
  timeoutMs: Record<JobRequest['kind'], number>;
}

export const DEFAULT_JOB_LIMITS: JobLimits = {
  maxRunning: 2,
  maxQueued: 16,
  // An LR test or an evaluation of CIFAR-10 on a CPU backend takes minutes; a prediction seconds.
  // An import of a large folder decodes for hours on a small machine.
  timeoutMs: { lrFind: 30 * 60_000, evaluate: 30 * 60_000, export: 10 * 60_000, predict: 2 * 60_000, importFolder: 12 * 60 * 60_000 },
};

/** Limits as callers give them: any subset, a timeout per kind included. */
export type JobLimitsOption = Partial<Omit<JobLimits, 'timeoutMs'>> & { timeoutMs?: Partial<JobLimits['timeoutMs']> };

export class JobQueueFullError extends Error {
  override name = 'JobQueueFullError';
}

/**
 * Runs each job in a fresh process and resolves with its answer; a process that dies rejects. At
 * most `maxRunning` processes at once, the rest queued (up to `maxQueued`), each one killed when it
 * runs past its kind's timeout.
 */
export function createJobRunner(transport: Transport = FORK, limits: JobLimitsOption = {}): JobRunner {
  const { maxRunning, maxQueued } = { ...DEFAULT_JOB_LIMITS, ...limits };
  const timeoutMs = { ...DEFAULT_JOB_LIMITS.timeoutMs, ...limits.timeoutMs };
  let running = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    running--;
    queue.shift()?.();
  };
  const runOne = <R extends JobRequest>(request: R, { onProgress, signal }: JobOptions) =>
    new Promise<JobResult<R>>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const proc: ChildEnd<JobChannel> = transport(JOB_CHANNEL, []);
      let answered = false;
      let settled = false;
      let lastDecoding: string | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        proc.send({ type: 'cancel' });
        killTimer = setTimeout(() => proc.kill(), CANCEL_GRACE_MS);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        clearTimeout(killTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      const timeout = timeoutMs[request.kind];
      const timer = setTimeout(() => {
        if (settled) return;
        settle();
        proc.kill();
        reject(
          Object.assign(new Error(`the ${JOB_NAMES[request.kind]} took longer than ${Math.round(timeout / 1000)} s and was stopped`), {
            name: 'JobTimeoutError',
          }),
        );
      }, timeout);
      proc.onMessage((msg) => {
        if (msg.type === 'progress') {
          // A large image about to be decoded: if the process dies now, that file is why.
          const decoding = (msg.event as { decoding?: unknown } | null)?.decoding;
          if (typeof decoding === 'string') lastDecoding = decoding;
          if (!settled) onProgress?.(msg.event);
          return;
        }
        answered = true;
        if (settled) return;
        settle();
        if (msg.type === 'result') resolve(msg.result as JobResult<R>);
        else reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
      });
      proc.onExit((exit) => {
        const { code, detail } = exit;
        if (settled || answered) return;
        settle();
        if (signal?.aborted) return reject(signal.reason);
        const last = lastStderrLine(detail);
        const oom = looksOutOfMemory(exit, false) ? ', most likely out of memory' : '';
        const where = lastDecoding ? ` while decoding "${lastDecoding}"` : '';
        const message = `the ${JOB_NAMES[request.kind]} process exited unexpectedly${where}${oom} (${describeExit(code, exit.signal ?? null, detail)})${last ? `, last saying "${last}"` : ''}`;
        reject(Object.assign(new Error(message), { name: 'JobCrashedError' }));
      });
      proc.send({ type: 'job', job: request });
    });
  return async <R extends JobRequest>(request: R, options: JobOptions = {}) => {
    if (running >= maxRunning) {
      if (queue.length >= maxQueued) {
        throw new JobQueueFullError(
          `Kiln is busy: ${running} jobs are running and ${queue.length} are waiting; try the ${JOB_NAMES[request.kind]} again later`,
        );
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    running++;
    try {
      return await runOne(request, options);
    } finally {
      next();
    }
  };
}
