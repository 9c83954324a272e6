import path from 'node:path';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { UploadStore } from '../datasets/upload-store.ts';
import type { ImportProgressEvent } from '../../src-shared/dataset-progress.ts';
import type { KilnHandlers } from '../../src-shared/contract.ts';
import { CustomArchStore } from './custom-archs.ts';
import { DailyLog } from './daily-log.ts';
import { createJobRunner } from './job-runner.ts';
import { RunManager } from './run-manager.ts';
import { JsonSettingsStore } from './settings-store.ts';
import { TaskManager } from './task-manager.ts';
import { backboneHandlers } from './handlers/backbone-handlers.ts';
import { appHandlers } from './handlers/app-handlers.ts';
import { archHandlers } from './handlers/arch-handlers.ts';
import { datasetHandlers } from './handlers/dataset-handlers.ts';
import type { HandlerContext, KilnServicesOptions } from './handlers/handler-context.ts';
import { runHandlers } from './handlers/run-handlers.ts';
import { settingsHandlers } from './handlers/settings-handlers.ts';

export type { EmitEvent, KilnServicesOptions } from './handlers/handler-context.ts';

export interface KilnServices {
  handlers: KilnHandlers;
  log: DailyLog;
  runs: RunManager;
  /** Browser uploads in progress: a transport drops those a closed connection began (abandon). */
  uploads: UploadStore;
  /** Runs that crash recovery marked interrupted at start-up. */
  recovered: string[];
  /** Pause running runs (checkpoint), cancel dataset tasks; for Ctrl-C and quitting the app. */
  shutdown(): Promise<{ paused: string[] }>;
}

/**
 * Every contract method, served from the dataset store, the run store and the engine (one handler
 * module per contract namespace, under handlers/). The Electron main process and `kiln serve` both
 * host one of these and only add transport.
 */
export async function createKilnServices(opts: KilnServicesOptions): Promise<KilnServices> {
  const home = path.resolve(opts.home);
  const log = new DailyLog(home);
  const runs = new RunManager(home, opts.emit, log, opts.spawner, opts.stopTimeoutMs, opts.maxTrainers);
  const tasks = new TaskManager(opts.emit, log);
  const jobs = opts.jobs ?? createJobRunner(undefined, opts.jobLimits);
  const uploads = new UploadStore(home, { maxBytes: opts.uploadMaxBytes, idleMs: opts.uploadIdleMs });
  const ctx: HandlerContext = {
    home,
    opts,
    log,
    datasets: new DatasetStore(home),
    archs: new CustomArchStore(home),
    settings: opts.settings ?? new JsonSettingsStore(home),
    runs,
    tasks,
    jobs,
    uploads,
    importInJob: (options, onProgress, signal) =>
      jobs({ kind: 'importFolder', home, options }, { onProgress: (e) => onProgress(e as ImportProgressEvent), signal }),
  };
  await uploads.sweep().catch((err: unknown) => log.warn(`could not clear old uploads: ${(err as Error).message}`));

  // Runs left 'running' by a host or trainer that died become 'interrupted' (resumable).
  const recovered = await runs.store.recoverInterrupted().catch((err: unknown) => {
    log.error('crash recovery failed', err);
    return [] as string[];
  });
  if (recovered.length) log.info(`marked interrupted: ${recovered.join(', ')}`);

  const handlers: KilnHandlers = {
    ...appHandlers(ctx),
    ...settingsHandlers(ctx),
    ...datasetHandlers(ctx),
    ...archHandlers(ctx),
    ...runHandlers(ctx),
    ...backboneHandlers(ctx),
  };

  return {
    handlers,
    log,
    runs,
    uploads,
    recovered,
    async shutdown() {
      const paused = await runs.pauseAll();
      await tasks.closeAll();
      await uploads.close();
      log.info(`shutdown: paused ${paused.length} run(s)`);
      return { paused };
    },
  };
}
