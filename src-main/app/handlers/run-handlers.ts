import { ConfigFieldError, UsageError } from '../../common/errors.ts';
import { ensureWritableDir } from '../../common/writable-dir.ts';
import { compareRuns } from '../../runs/compare-runs.ts';
import { readEvaluation } from '../../training/evaluate-run.ts';
import { DEFAULT_LR_FIND } from '../../training/lr-find.ts';
import { estimateRun } from '../../training/estimate-run.ts';
import type { KilnEvents } from '../../../src-shared/contract.ts';
import { assertRunDataset } from '../dataset-usage.ts';
import { checkExportDir, checkRemoteExportDir } from '../safe-paths.ts';
import type { HandlerContext, HandlersOf } from './handler-context.ts';

export function runHandlers({ home, opts, log, datasets, runs, jobs }: HandlerContext): HandlersOf<'runs'> {
  /** LR range tests in progress by the caller's findId, to cancel them. */
  const lrFinds = new Map<string, AbortController>();
  return {
    'runs.list': async () => {
      const { runs: list, broken } = await runs.store.list();
      for (const b of broken) log.warn(`runs.list: skipped ${b.dir}: ${b.error}`);
      return list;
    },
    'runs.get': async (id) => runs.store.get(id),
    'runs.metrics': async (id) => runs.store.readMetrics(id),
    'runs.start': async (config, name) =>
      runs.start(config, name).catch((err: unknown) => Promise.reject(asArgumentError('runs.start', err))),
    'runs.pause': async (id) => runs.pause(id),
    'runs.resume': async (id) => {
      await assertRunDataset(datasets, await runs.store.get(id), 'resuming it');
      return runs.resume(id);
    },
    'runs.stop': async (id) => runs.stop(id),
    'runs.remove': async (id) => {
      await runs.remove(id);
      log.info(`run ${id}: removed`);
    },
    'runs.unlock': async (id) => {
      if (runs.isLive(id)) throw new UsageError(`run ${id} is training in this Kiln; pause or stop it instead`);
      const { removed } = await runs.store.unlock(id);
      if (removed.length) log.warn(`run ${id}: unlocked (removed the lock of pid ${removed[0]!.pid} on ${removed[0]!.hostname})`);
      return runs.store.get(id);
    },
    'runs.rename': async (id, name) => runs.store.rename(id, name),
    'runs.annotate': async (id, a) => runs.store.annotate(id, a),
    'runs.compare': async (ids) => {
      const inputs = await Promise.all(
        ids.map(async (id) => ({ record: await runs.store.get(id), metrics: await runs.store.readMetrics(id) })),
      );
      return compareRuns(inputs);
    },
    'runs.evaluate': async (id) => {
      await assertRunDataset(datasets, await runs.store.get(id), 'evaluating it');
      const result = await jobs({ kind: 'evaluate', home, runId: id });
      log.info(`run ${id}: evaluated`);
      return result;
    },
    'runs.evaluation': async (id) => {
      await runs.store.get(id);
      return readEvaluation(home, id);
    },
    'runs.export': async (id, dir, options) => {
      const checked = opts.remote ? checkRemoteExportDir(dir, home) : checkExportDir(dir, home);
      await runs.store.get(id);
      const out = ensureWritableDir(checked);
      const result = await jobs({ kind: 'export', home, runId: id, dir: out, ...(options ? { options } : {}) });
      log.info(`run ${id}: exported to ${result.dir}`);
      return result;
    },
    'runs.predict': async (id, imageBase64, top) => {
      await assertRunDataset(datasets, await runs.store.get(id), 'trying a picture');
      return jobs({ kind: 'predict', home, runId: id, imageBase64, top: top ?? 3 });
    },
    'runs.lrFind': async (config, options) => {
      const { startLr, endLr } = { ...DEFAULT_LR_FIND, ...options };
      if (!(endLr > startLr)) throw new UsageError(`runs.lrFind: endLr (${endLr}) must be above startLr (${startLr})`);
      const { findId, ...jobOptions } = options ?? {};
      if (!findId) return jobs({ kind: 'lrFind', home, config, options: jobOptions });
      if (lrFinds.has(findId)) throw new UsageError(`runs.lrFind: a range test "${findId}" is running already`);
      const controller = new AbortController();
      lrFinds.set(findId, controller);
      try {
        return await jobs(
          { kind: 'lrFind', home, config, options: jobOptions },
          {
            signal: controller.signal,
            onProgress: (p) => opts.emit('lrFindProgress', { findId, ...(p as Omit<KilnEvents['lrFindProgress'], 'findId'>) }),
          },
        );
      } finally {
        lrFinds.delete(findId);
      }
    },
    'runs.estimate': async (config) =>
      estimateRun(home, config).catch((err: unknown) => Promise.reject(asArgumentError('runs.estimate', err))),
    'runs.lrFindCancel': async (findId) => {
      // Already over (answered or cancelled): nothing to stop.
      lrFinds.get(findId)?.abort();
    },
  };
}

/** A setting the recipe made invalid, reported as the contract reports schema errors: at its field of argument 0. */
function asArgumentError(method: string, err: unknown): unknown {
  if (!(err instanceof ConfigFieldError)) return err;
  return Object.assign(new Error(`${method}: argument 0.${err.path}: ${err.detail}`), { name: 'ValidationError' });
}
