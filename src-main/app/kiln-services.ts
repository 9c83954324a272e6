import path from 'node:path';
import { ConfigFieldError, UsageError } from '../common/errors.ts';
import { KILN_VERSION } from '../common/version.ts';
import { ensureWritableDir } from '../common/writable-dir.ts';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { CIFAR10_URL, downloadCifar10 } from '../datasets/download-cifar10.ts';
import type { ImportFolderOptions } from '../datasets/import-folder.ts';
import { encodePngRgb } from '../datasets/png-encode.ts';
import type { ProxyResolver } from '../datasets/proxy.ts';
import type { ImportProgressEvent } from '../../src-shared/dataset-progress.ts';
import { UploadStore } from '../datasets/upload-store.ts';
import { buildGraph, summarize } from '../engine/arch/graph.ts';
import { PRESETS } from '../engine/arch/presets.ts';
import { checkModelSize } from '../engine/arch/model-size.ts';
import { makeSyntheticDataset, SYNTHETIC_CLASSES, SYNTHETIC_ID } from '../engine/data/synthetic.ts';
import type { TrainerSpawner } from '../training/trainer-client.ts';
import { compareRuns } from '../runs/compare-runs.ts';
import { readEvaluation } from '../training/evaluate-run.ts';
import { DEFAULT_LR_FIND } from '../training/lr-find.ts';
import type { Evaluation, Prediction } from '../../src-shared/contract.ts';
import type { DatasetInfo, ImageItem, KilnEvents, KilnHandlers } from '../../src-shared/contract.ts';
import { probeBackends } from '../engine/backend/registry.ts';
import { CustomArchStore } from './custom-archs.ts';
import { assertDatasetUnused, assertRunDataset, runsUsingDataset } from './dataset-usage.ts';
import { DailyLog } from './daily-log.ts';
import { createJobRunner, type JobLimitsOption, type JobRunner } from './job-runner.ts';
import { RunManager } from './run-manager.ts';
import { checkExportDir, checkImportFolder, checkRemoteExportDir, checkRemoteImportFolder, type RemoteLimits } from './safe-paths.ts';
import { inspectFolder } from '../datasets/import-folder.ts';
import { JsonSettingsStore, type SettingsStore } from './settings-store.ts';
import { TaskManager } from './task-manager.ts';
import type { LrFindResult } from '../../src-shared/train-types.ts';

export type EmitEvent = <E extends keyof KilnEvents>(event: E, payload: KilnEvents[E]) => void;

export interface KilnServicesOptions {
  home: string;
  /** Pushes an event to every connected renderer. */
  emit: EmitEvent;
  /** How trainers start: child_process.fork by default, Electron's utilityProcess in the app. */
  spawner?: TrainerSpawner;
  /** How heavy jobs (LR range test, evaluation, export, prediction) run out of process; a fork of job-entry.ts by default. */
  jobs?: JobRunner;
  /** settings.json under the home by default; electron-store in the app. */
  settings?: SettingsStore;
  /** The app's native folder picker; without one datasets.pickFolder answers null. */
  pickFolder?: () => Promise<string | null>;
  electron?: boolean;
  /** The system's proxy for a download URL: Electron's resolver in the app; direct connections otherwise. */
  proxyFor?: ProxyResolver;
  /** Cap on one browser upload's total bytes (default DEFAULT_UPLOAD_MAX_BYTES). */
  uploadMaxBytes?: number;
  /** Set when clients may be remote (`kiln serve --allow-remote`): what they may touch on this disk. */
  remote?: RemoteLimits;
  /** How long a trainer may take to pause or stop before it is killed (default 120 s). */
  stopTimeoutMs?: number;
  /** Trainers at once (default 8). */
  maxTrainers?: number;
  /** Limits of the heavy-job pool when `jobs` is not given. */
  jobLimits?: JobLimitsOption;
}

export interface KilnServices {
  handlers: KilnHandlers;
  log: DailyLog;
  runs: RunManager;
  /** Runs that crash recovery marked interrupted at start-up. */
  recovered: string[];
  /** Pause running runs (checkpoint), cancel dataset tasks; for Ctrl-C and quitting the app. */
  shutdown(): Promise<{ paused: string[] }>;
}

// The built-in dataset's fixed shape (engine/data/synthetic.ts defaults); listing it must not draw 6,000 images.
const SYNTHETIC_INFO = { id: SYNTHETIC_ID, name: 'Synthetic shapes', builtIn: true as const, classes: SYNTHETIC_CLASSES, counts: { train: 5000, val: 1000 }, imageSize: 32 };

type ImportChoices = Partial<Pick<ImportFolderOptions, 'name' | 'size' | 'valSplit' | 'seed' | 'fit'>>;

/** importFolder's options from a call's, leaving out what the caller left out (the importer's defaults apply). */
function importOptions(folder: string, o: { [K in keyof ImportChoices]?: ImportChoices[K] | undefined }): ImportFolderOptions {
  return {
    folder,
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.size !== undefined ? { size: o.size } : {}),
    ...(o.valSplit !== undefined ? { valSplit: o.valSplit } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.fit !== undefined ? { fit: o.fit } : {}),
  };
}

function notBuiltIn(id: string, what: string): void {
  if (id === SYNTHETIC_ID) throw new UsageError(`the "${SYNTHETIC_ID}" dataset is built in and cannot be ${what}`);
}

/**
 * Every contract method, served from the dataset store, the run store and the engine. The Electron
 * main process and `kiln serve` both host one of these and only add transport.
 */
export async function createKilnServices(opts: KilnServicesOptions): Promise<KilnServices> {
  const home = path.resolve(opts.home);
  const log = new DailyLog(home);
  const datasets = new DatasetStore(home);
  const archs = new CustomArchStore(home);
  const settings = opts.settings ?? new JsonSettingsStore(home);
  const runs = new RunManager(home, opts.emit, log, opts.spawner, opts.stopTimeoutMs, opts.maxTrainers);
  const tasks = new TaskManager(opts.emit, log);
  const jobs = opts.jobs ?? createJobRunner(undefined, opts.jobLimits);
  // Image decoding runs in a job process: a decoder crash ends the import, not the host (png-encode.ts says why).
  const importInJob = (options: ImportFolderOptions, onProgress: (e: ImportProgressEvent) => void, signal: AbortSignal) =>
    jobs({ kind: 'importFolder', home, options }, { onProgress: (e) => onProgress(e as ImportProgressEvent), signal });
  const uploads = new UploadStore(home, opts.uploadMaxBytes);
  /** LR range tests in progress by the caller's findId, to cancel them. */
  const lrFinds = new Map<string, AbortController>();
  await uploads.sweep().catch((err: unknown) => log.warn(`could not clear old uploads: ${(err as Error).message}`));

  // Runs left 'running' by a host or trainer that died become 'interrupted' (resumable).
  const recovered = await runs.store.recoverInterrupted().catch((err: unknown) => {
    log.error('crash recovery failed', err);
    return [] as string[];
  });
  if (recovered.length) log.info(`marked interrupted: ${recovered.join(', ')}`);

  let synthetic: Promise<LoadedDataset> | undefined;
  const syntheticData = () => (synthetic ??= Promise.resolve().then(() => makeSyntheticDataset()));

  const toItem = async (d: LoadedDataset, split: 'train' | 'val', index: number): Promise<ImageItem> => {
    const S = d.imageSize;
    const per = S * S * 3;
    const raw = d[split].images.subarray(index * per, (index + 1) * per);
    const png = encodePngRgb(raw, S, S);
    return { index, label: d[split].labels[index]!, png: png.toString('base64') };
  };

  const handlers: KilnHandlers = {
    'app.info': async () => ({ version: KILN_VERSION, home, electron: !!opts.electron, backends: probeBackends() }),

    'settings.get': async () => settings.get(),
    'settings.set': async (patch) => settings.set(patch),

    'datasets.list': async () => [SYNTHETIC_INFO, ...(await datasets.list())],
    'datasets.get': async (id) => {
      if (id === SYNTHETIC_ID) {
        const d = await syntheticData();
        const count = (labels: Uint8Array) => {
          const c = new Array<number>(d.classes.length).fill(0);
          for (const l of labels) c[l]!++;
          return c;
        };
        return { manifest: SYNTHETIC_INFO, classCounts: { train: count(d.train.labels), val: count(d.val.labels) } } satisfies DatasetInfo;
      }
      const manifest = await datasets.get(id);
      return { manifest, classCounts: manifest.classCounts, excluded: await datasets.excluded(id) };
    },
    'datasets.remove': async (id, o) => {
      notBuiltIn(id, 'removed');
      if (!o?.force) await assertDatasetUnused(runs.store, id, 'confirm to delete it anyway');
      await datasets.remove(id);
      log.info(`dataset ${id}: removed`);
    },
    'datasets.usage': async (id) => ({ runs: await runsUsingDataset(runs.store, id) }),
    'datasets.rename': async (id, name) => {
      notBuiltIn(id, 'renamed');
      return datasets.rename(id, name);
    },
    'datasets.page': async (id, split, classIndex, offset, limit) => {
      if (id === SYNTHETIC_ID) {
        const d = await syntheticData();
        if (classIndex >= d.classes.length) throw new UsageError(`class index ${classIndex} is out of range: dataset "${id}" has ${d.classes.length} classes`);
        const members: number[] = [];
        d[split].labels.forEach((l, i) => l === classIndex && members.push(i));
        const chosen = members.slice(offset, offset + limit);
        return { total: members.length, items: await Promise.all(chosen.map((i) => toItem(d, split, i))) };
      }
      const page = await datasets.pageOfClass(id, split, classIndex, offset, limit);
      return {
        total: page.total,
        items: page.items.map((it) => ({ index: it.index, label: it.label, png: Buffer.from(it.png).toString('base64'), ...(it.source !== undefined ? { source: it.source } : {}) })),
      };
    },
    'datasets.image': async (id, split, index) => {
      if (id === SYNTHETIC_ID) {
        const d = await syntheticData();
        if (index >= d[split].count) throw new UsageError(`image index ${index} is out of range: the ${split} split of "${id}" has ${d[split].count} images`);
        return toItem(d, split, index);
      }
      const { png, label, source } = await datasets.image(id, split, index);
      return { index, label, png: Buffer.from(png).toString('base64'), ...(source !== undefined ? { source } : {}) };
    },
    'datasets.downloadCifar10': async (o) => {
      if (o.url && !/^https?:$/.test(new URL(o.url).protocol)) throw new UsageError(`url ${o.url}: expected an http or https address`);
      // A remote client must not make this machine fetch addresses of its choosing (its errors would map the network).
      if (opts.remote && o.url !== undefined && o.url !== CIFAR10_URL) throw new UsageError(`url ${o.url}: a remote Kiln downloads CIFAR-10 only from its built-in address`);
      return tasks.start('download', (onProgress, signal) =>
        downloadCifar10(
          datasets,
          { ...(o.url ? { url: o.url } : {}), ...(o.sha256 ? { sha256: o.sha256.toLowerCase() } : {}), ...(o.md5 ? { md5: o.md5.toLowerCase() } : {}), ...(opts.proxyFor ? { proxyFor: opts.proxyFor } : {}) },
          onProgress,
          signal,
        ),
      );
    },
    'datasets.inspectFolder': async (folderArg) => {
      const folder = checkImportFolder(folderArg, home);
      if (opts.remote) checkRemoteImportFolder(folder, opts.remote);
      return inspectFolder(folder);
    },
    'datasets.importFolder': async (o) => {
      const folder = checkImportFolder(o.folder, home);
      if (opts.remote) checkRemoteImportFolder(folder, opts.remote);
      // Said at once rather than as the task's failure a moment later.
      await datasets.assertNameFree(o.name?.trim() || path.basename(folder));
      return tasks.start('import', (onProgress, signal) => importInJob(importOptions(folder, o), onProgress, signal));
    },
    'datasets.uploadBegin': async ({ files, bytes, name }) => {
      if (name?.trim()) await datasets.assertNameFree(name);
      return uploads.begin(files, bytes);
    },
    'datasets.uploadChunk': async (uploadId, relPath, offset, base64) => uploads.write(uploadId, relPath, offset, Buffer.from(base64, 'base64')),
    'datasets.importUpload': async (uploadId, o) => {
      const up = await uploads.finish(uploadId);
      const name = o.name?.trim() || up.name;
      if (name) await datasets.assertNameFree(name).catch(async (err: unknown) => {
        await uploads.remove(uploadId);
        throw err;
      });
      log.info(`upload ${uploadId}: ${up.files} files, ${up.bytes} bytes received`);
      // The same import as a local folder; the uploaded copy goes once the import is over, however it ends.
      return tasks.start('import', (onProgress, signal) =>
        importInJob({ ...importOptions(up.folder, { ...o, name: o.name ?? up.name ?? undefined }), uploadedAs: up.name ?? name ?? 'upload' }, onProgress, signal).finally(() => uploads.remove(uploadId)),
      );
    },
    'datasets.uploadCancel': async (uploadId) => uploads.remove(uploadId),
    'datasets.cancelTask': async (taskId) => tasks.cancel(taskId),
    'datasets.setExcluded': async (id, split, index, excluded) => {
      notBuiltIn(id, 'changed');
      return datasets.setExcluded(id, split, index, excluded);
    },
    'datasets.pickFolder': async () => (opts.pickFolder ? opts.pickFolder() : null),

    'archs.presets': async () =>
      PRESETS.map((p) => ({ id: p.id, title: p.title, spec: p.spec, recipe: p.recipe, summary: summarize(buildGraph(p.spec, { imageSize: 32, numClasses: 10 })) })),
    'archs.summarize': async (spec, imageSize, numClasses) => summarize(buildGraph(spec, { imageSize, numClasses })),
    'archs.listCustom': async () => archs.list(),
    'archs.saveCustom': async (name, spec) => {
      // A spec that cannot be built, or is too large at batch 1 on 32×32 images, is refused here, not at the start of a run.
      checkModelSize(buildGraph(spec, { imageSize: 32, numClasses: 10 }), 1, `architecture "${name}"`);
      await archs.save(name, spec);
    },
    'archs.removeCustom': async (name) => archs.remove(name),

    'runs.list': async () => {
      const { runs: list, broken } = await runs.store.list();
      for (const b of broken) log.warn(`runs.list: skipped ${b.dir}: ${b.error}`);
      return list;
    },
    'runs.get': async (id) => runs.store.get(id),
    'runs.metrics': async (id) => runs.store.readMetrics(id),
    'runs.start': async (config, name) => runs.start(config, name).catch((err: unknown) => Promise.reject(asArgumentError('runs.start', err))),
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
      const inputs = await Promise.all(ids.map(async (id) => ({ record: await runs.store.get(id), metrics: await runs.store.readMetrics(id) })));
      return compareRuns(inputs);
    },
    'runs.evaluate': async (id) => {
      await assertRunDataset(datasets, await runs.store.get(id), 'evaluating it');
      const result = await jobs<Evaluation>({ kind: 'evaluate', home, runId: id });
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
      const result = await jobs<{ dir: string }>({ kind: 'export', home, runId: id, dir: out, ...(options ? { options } : {}) });
      log.info(`run ${id}: exported to ${result.dir}`);
      return result;
    },
    'runs.predict': async (id, imageBase64, top) => {
      await assertRunDataset(datasets, await runs.store.get(id), 'trying a picture');
      return jobs<Prediction>({ kind: 'predict', home, runId: id, imageBase64, top: top ?? 3 });
    },
    'runs.lrFind': async (config, options) => {
      const { startLr, endLr } = { ...DEFAULT_LR_FIND, ...options };
      if (!(endLr > startLr)) throw new UsageError(`runs.lrFind: endLr (${endLr}) must be above startLr (${startLr})`);
      const { findId, ...jobOptions } = options ?? {};
      if (!findId) return jobs<LrFindResult>({ kind: 'lrFind', home, config, options: jobOptions });
      if (lrFinds.has(findId)) throw new UsageError(`runs.lrFind: a range test "${findId}" is running already`);
      const controller = new AbortController();
      lrFinds.set(findId, controller);
      try {
        return await jobs<LrFindResult>(
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
    'runs.lrFindCancel': async (findId) => {
      // Already over (answered or cancelled): nothing to stop.
      lrFinds.get(findId)?.abort();
    },
  };

  return {
    handlers,
    log,
    runs,
    recovered,
    async shutdown() {
      const paused = await runs.pauseAll();
      await tasks.closeAll();
      log.info(`shutdown: paused ${paused.length} run(s)`);
      return { paused };
    },
  };
}

/** A setting the recipe made invalid, reported as the contract reports schema errors: at its field of argument 0. */
function asArgumentError(method: string, err: unknown): unknown {
  if (!(err instanceof ConfigFieldError)) return err;
  return Object.assign(new Error(`${method}: argument 0.${err.path}: ${err.detail}`), { name: 'ValidationError' });
}
