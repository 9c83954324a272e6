import path from 'node:path';
import { UsageError } from '../../common/errors.ts';
import type { LoadedDataset } from '../../common/dataset-types.ts';
import { CIFAR10_URL, downloadCifar10 } from '../../datasets/download-cifar10.ts';
import { inspectFolder, type ImportFolderOptions } from '../../datasets/import-folder.ts';
import { encodePngRgb } from '../../datasets/png-encode.ts';
import { makeSyntheticDataset, SYNTHETIC_CLASSES, SYNTHETIC_ID } from '../../engine/data/synthetic.ts';
import type { DatasetInfo, ImageItem } from '../../../src-shared/contract.ts';
import { assertDatasetUnused, runsUsingDataset } from '../dataset-usage.ts';
import { checkImportFolder, checkRemoteImportFolder, checkTarballFile } from '../safe-paths.ts';
import type { HandlerContext, HandlersOf } from './handler-context.ts';

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

export function datasetHandlers({ home, opts, log, datasets, runs, tasks, uploads, importInJob }: HandlerContext): HandlersOf<'datasets'> {
  let synthetic: Promise<LoadedDataset> | undefined;
  const syntheticData = () => (synthetic ??= Promise.resolve().then(() => makeSyntheticDataset()));
  // Remote mode: nothing a scan reaches (links included) may resolve outside the data roots.
  const within = opts.remote ? { within: opts.remote.dataRoots } : {};

  const toItem = async (d: LoadedDataset, split: 'train' | 'val', index: number): Promise<ImageItem> => {
    const S = d.imageSize;
    const per = S * S * 3;
    const raw = d[split].images.subarray(index * per, (index + 1) * per);
    const png = encodePngRgb(raw, S, S);
    return { index, label: d[split].labels[index]!, png: png.toString('base64') };
  };

  return {
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
      if (o.file && opts.remote) checkRemoteImportFolder(o.file, opts.remote);
      const file = o.file ? checkTarballFile(o.file, home) : undefined;
      return tasks.start('download', (onProgress, signal) =>
        downloadCifar10(
          datasets,
          { ...(o.url ? { url: o.url } : {}), ...(file ? { file } : {}), ...(o.sha256 ? { sha256: o.sha256.toLowerCase() } : {}), ...(o.md5 ? { md5: o.md5.toLowerCase() } : {}), ...(opts.proxyFor ? { proxyFor: opts.proxyFor } : {}) },
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
  };
}
