import path from 'node:path';
import { UsageError } from '../../common/errors.ts';
import { CIFAR10_URL, downloadCifar10 } from '../../datasets/download-cifar10.ts';
import { inspectFolder, type ImportFolderOptions } from '../../datasets/import-folder.ts';
import type { StoredImage } from '../../datasets/dataset-browser.ts';
import { builtInDatasets, datasetSource, isBuiltInDataset } from '../../training/dataset-source.ts';
import type { ImageItem } from '../../../src-shared/contract.ts';
import { assertDatasetUnused, runsUsingDataset } from '../dataset-usage.ts';
import { checkImportFolder, checkRemoteImportFolder, checkTarballFile } from '../safe-paths.ts';
import { backboneForImport } from '../../training/backbone-source.ts';
import type { HandlerContext, HandlersOf } from './handler-context.ts';

type ImportChoices = Partial<Pick<ImportFolderOptions, 'name' | 'size' | 'valSplit' | 'seed' | 'fit'>>;

/** importFolder's options from a call's, leaving out what the caller left out (the importer's defaults apply). */
function importOptions(
  folder: string,
  o: { [K in keyof ImportChoices]?: ImportChoices[K] | undefined } & { forBackbone?: string | undefined },
): ImportFolderOptions {
  return {
    folder,
    ...(o.forBackbone !== undefined ? { forBackbone: backboneForImport(o.forBackbone) } : {}),
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.size !== undefined ? { size: o.size } : {}),
    ...(o.valSplit !== undefined ? { valSplit: o.valSplit } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.fit !== undefined ? { fit: o.fit } : {}),
  };
}

function notBuiltIn(id: string, what: string): void {
  if (isBuiltInDataset(id)) throw new UsageError(`the "${id}" dataset is built in and cannot be ${what}`);
}

/** An image as the contract carries it: PNG bytes as base64. */
function toItem(it: StoredImage): ImageItem {
  return {
    index: it.index,
    label: it.label,
    png: Buffer.from(it.png).toString('base64'),
    ...(it.source !== undefined ? { source: it.source } : {}),
  };
}

export function datasetHandlers({ home, opts, log, datasets, runs, tasks, uploads, importInJob }: HandlerContext): HandlersOf<'datasets'> {
  // Remote mode: nothing a scan reaches (links included) may resolve outside the data roots.
  const within = opts.remote ? { within: opts.remote.dataRoots } : {};

  return {
    // Built-in datasets first, described without drawing an image.
    'datasets.list': async () => [
      ...(await Promise.all(builtInDatasets().map(async (d) => (await d.describe()).manifest))),
      ...(await datasets.list()),
    ],
    'datasets.get': async (id) => {
      const { manifest, classCounts, excluded } = await datasetSource(datasets, id).describe();
      return { manifest, classCounts, excluded };
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
      const page = await datasetSource(datasets, id).page(split, classIndex, offset, limit);
      return { total: page.total, items: page.items.map(toItem) };
    },
    'datasets.image': async (id, split, index) => toItem(await datasetSource(datasets, id).image(split, index)),
    'datasets.downloadCifar10': async (o) => {
      if (o.url && !/^https?:$/.test(new URL(o.url).protocol)) throw new UsageError(`url ${o.url}: expected an http or https address`);
      // A remote client must not make this machine fetch addresses of its choosing (its errors would map the network).
      if (opts.remote && o.url !== undefined && o.url !== CIFAR10_URL)
        throw new UsageError(`url ${o.url}: a remote Kiln downloads CIFAR-10 only from its built-in address`);
      if (o.file && opts.remote) checkRemoteImportFolder(o.file, opts.remote);
      const file = o.file ? checkTarballFile(o.file, home) : undefined;
      return tasks.start(
        'download',
        (onProgress, signal) =>
          downloadCifar10(
            datasets,
            {
              ...(o.url ? { url: o.url } : {}),
              ...(file ? { file } : {}),
              ...(o.sha256 ? { sha256: o.sha256.toLowerCase() } : {}),
              ...(o.md5 ? { md5: o.md5.toLowerCase() } : {}),
              ...(opts.proxyFor ? { proxyFor: opts.proxyFor } : {}),
            },
            onProgress,
            signal,
          ),
        // One download per dataset id: a second caller (another tab, a double click) joins the first.
        'dataset:cifar10',
      );
    },
    'datasets.inspectFolder': async (folderArg) => {
      if (opts.remote) checkRemoteImportFolder(folderArg, opts.remote);
      const folder = checkImportFolder(folderArg, home);
      return inspectFolder(folder, within);
    },
    'datasets.importFolder': async (o) => {
      if (opts.remote) checkRemoteImportFolder(o.folder, opts.remote);
      const folder = checkImportFolder(o.folder, home);
      // Said at once rather than as the task's failure a moment later.
      await datasets.assertNameFree(o.name?.trim() || path.basename(folder));
      return tasks.start('import', (onProgress, signal) => importInJob({ ...importOptions(folder, o), ...within }, onProgress, signal));
    },
    'datasets.uploadBegin': async ({ files, bytes, name }) => {
      if (name?.trim()) await datasets.assertNameFree(name);
      return uploads.begin(files, bytes);
    },
    'datasets.uploadChunk': async (uploadId, relPath, offset, base64) =>
      uploads.write(uploadId, relPath, offset, Buffer.from(base64, 'base64')),
    'datasets.importUpload': async (uploadId, o) => {
      const up = await uploads.finish(uploadId);
      const name = o.name?.trim() || up.name;
      if (name)
        await datasets.assertNameFree(name).catch(async (err: unknown) => {
          await uploads.remove(uploadId);
          throw err;
        });
      log.info(`upload ${uploadId}: ${up.files} files, ${up.bytes} bytes received`);
      // The same import as a local folder; the uploaded copy goes once the import is over, however it ends.
      return tasks.start('import', (onProgress, signal) =>
        importInJob(
          { ...importOptions(up.folder, { ...o, name: o.name ?? up.name ?? undefined }), uploadedAs: up.name ?? name ?? 'upload' },
          onProgress,
          signal,
        ).finally(() => uploads.remove(uploadId)),
      );
    },
    'datasets.uploadCancel': async (uploadId) => uploads.remove(uploadId),
    'datasets.cancelTask': async (taskId) => tasks.cancel(taskId),
    'datasets.setExcluded': async (id, split, index, excluded) => {
      notBuiltIn(id, 'changed');
      return datasets.setExcluded(id, split, index, excluded);
    },
    'datasets.setMoved': async (id, split, index, to) => {
      notBuiltIn(id, 'changed');
      return datasets.setMoved(id, split, index, to);
    },
    'datasets.pickFolder': async () => (opts.pickFolder ? opts.pickFolder() : null),
  };
}
