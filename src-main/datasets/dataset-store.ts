import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { DataError, UsageError } from '../common/errors.ts';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import type { DatasetExclusions, ImageSplit, LoadedDataset } from '../common/dataset-types.ts';
import { assertValidId, assertValidName, RESERVED_IDS } from './dataset-id.ts';
import { channelStats } from '../common/channel-stats.ts';
import { describeFsError } from '../common/fs-errors.ts';
import { fsyncDir } from '../common/fsync-dir.ts';
import { DatasetBrowser, type ClassPage } from './dataset-browser.ts';
import { readExact, readManifest, splitFiles, writeSynced } from './dataset-files.ts';
import {
  DATASET_FILES,
  datasetMovesSchema,
  type DatasetMoves,
  FORMAT_VERSION,
  type DatasetManifest,
  type DatasetSource,
  type DatasetSources,
  type SplitName,
} from '../../src-shared/dataset-manifest.ts';

export type { DatasetManifest, DatasetSources, SplitName } from '../../src-shared/dataset-manifest.ts';

/** What a producer (download, import) hands the store: decoded images, already in their final size. */
export interface NewDataset {
  id: string;
  name: string;
  source: DatasetSource;
  imageSize: number;
  classes: string[];
  train: ImageSplit;
  val: ImageSplit;
  /** Folder imports: the file each image came from, relative to the folder, per split in stored order. */
  sources?: DatasetSources;
}

export interface ClassCounts {
  classes: string[];
  train: number[];
  val: number[];
}

/**
 * Datasets on disk: <home>/datasets/<id>/ holding manifest.json and raw uint8
 * records. A dataset folder appears only by rename of a finished temp folder,
 * so readers never see half of one.
 */
export class DatasetStore {
  readonly root: string;
  private readonly browser: DatasetBrowser;

  constructor(home: string) {
    this.root = path.join(path.resolve(home), 'datasets');
    this.browser = new DatasetBrowser(this.root);
  }

  dir(id: string): string {
    assertValidId(id);
    return path.join(this.root, id);
  }

  async list(): Promise<DatasetManifest[]> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: DatasetManifest[] = [];
    for (const e of entries) {
      // Dot-entries are temp folders of writes in progress or removals; skip them and anything that is not a dataset.
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      try {
        out.push(await this.get(e.name));
      } catch {
        // A folder without a readable manifest is not a dataset; `list` shows datasets only.
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async has(id: string): Promise<boolean> {
    assertValidId(id);
    return fs.promises.access(path.join(this.dir(id), DATASET_FILES.manifest)).then(
      () => true,
      () => false,
    );
  }

  async get(id: string): Promise<DatasetManifest> {
    return (await this.readManifest(id)).manifest;
  }

  /** An id not yet used (and not reserved) derived from `base`: base, base-2, base-3, … */
  async uniqueId(base: string): Promise<string> {
    assertValidId(base);
    for (let n = 1; ; n++) {
      const id = n === 1 ? base : `${base.slice(0, 58)}-${n}`;
      if (RESERVED_IDS.has(id)) continue;
      const exists = await fs.promises.access(path.join(this.root, id)).then(
        () => true,
        () => false,
      );
      if (!exists) return id;
    }
  }

  /** Writes a finished dataset into a temp folder and renames it into place; an existing dataset with the id is never replaced. */
  async create(data: NewDataset, signal?: AbortSignal): Promise<DatasetManifest> {
    assertValidId(data.id);
    assertValidName(data.name);
    if (RESERVED_IDS.has(data.id)) throw new UsageError(`dataset id "${data.id}" is reserved for the built-in dataset`);
    const S = data.imageSize;
    for (const split of ['train', 'val'] as const) {
      const s = data[split];
      if (s.images.length !== s.count * S * S * 3 || s.labels.length !== s.count) {
        throw new Error(
          `internal: ${split} split has ${s.images.length} image bytes and ${s.labels.length} labels for ${s.count} images of ${S}×${S}`,
        );
      }
      for (const l of s.labels)
        if (l >= data.classes.length) throw new Error(`internal: ${split} label ${l} ≥ ${data.classes.length} classes`);
    }
    if (data.train.count === 0) throw new DataError(`dataset "${data.name}" has no training images`);
    for (const split of ['train', 'val'] as const) {
      const n = data.sources?.[split].length;
      if (n !== undefined && n !== data[split].count)
        throw new Error(`internal: ${n} ${split} source paths for ${data[split].count} images`);
    }
    if (await this.has(data.id))
      throw new UsageError(`dataset "${data.id}" already exists; remove it first with \`kiln dataset rm ${data.id}\``);

    const count = (labels: Uint8Array) => {
      const c = new Array<number>(data.classes.length).fill(0);
      for (const l of labels) c[l]++;
      return c;
    };
    const { mean, std } = channelStats(data.train.images);
    const manifest: DatasetManifest = {
      formatVersion: FORMAT_VERSION,
      id: data.id,
      name: data.name.trim(),
      source: data.source,
      imageSize: S,
      channels: 3,
      classes: data.classes,
      counts: { train: data.train.count, val: data.val.count },
      classCounts: { train: count(data.train.labels), val: count(data.val.labels) },
      mean,
      std,
      createdAt: new Date().toISOString(),
    };

    await fs.promises.mkdir(this.root, { recursive: true });
    const tmp = path.join(this.root, `.tmp-${data.id}-${crypto.randomBytes(6).toString('hex')}`);
    try {
      await fs.promises.mkdir(tmp);
      const files: [string, Uint8Array][] = [
        [DATASET_FILES.trainImages, data.train.images],
        [DATASET_FILES.trainLabels, data.train.labels],
        [DATASET_FILES.valImages, data.val.images],
        [DATASET_FILES.valLabels, data.val.labels],
      ];
      if (data.sources) files.push([DATASET_FILES.sources, Buffer.from(JSON.stringify(data.sources) + '\n')]);
      for (const [name, bytes] of files) {
        signal?.throwIfAborted();
        await writeSynced(path.join(tmp, name), bytes);
      }
      await writeSynced(path.join(tmp, DATASET_FILES.manifest), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
      signal?.throwIfAborted();
      try {
        await fs.promises.rename(tmp, path.join(this.root, data.id));
        await fsyncDir(this.root);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Someone else finished a dataset with this id meanwhile: theirs stays.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new UsageError(`dataset "${data.id}" already exists`);
        throw err;
      }
    } catch (err) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      throw describeFsError(err, `dataset "${data.id}" in ${this.root}`);
    }
    return manifest;
  }

  async load(id: string): Promise<LoadedDataset> {
    const { manifest, hash } = await this.readManifest(id);
    const dir = this.dir(id);
    const S = manifest.imageSize;
    const readSplit = async (split: SplitName): Promise<ImageSplit> => {
      const count = manifest.counts[split];
      const files = splitFiles(dir, split);
      const [images, labels] = await Promise.all([readExact(files.images, count * S * S * 3), readExact(files.labels, count)]);
      return { count, images, labels };
    };
    const [train, val] = await Promise.all([readSplit('train'), readSplit('val')]);
    return {
      id: manifest.id,
      name: manifest.name,
      imageSize: S,
      classes: manifest.classes,
      mean: manifest.mean,
      std: manifest.std,
      train,
      val,
      manifestHash: hash,
    };
  }

  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    await this.get(id);
    // Rename first so the dataset vanishes at once, then delete at leisure.
    const trash = path.join(this.root, `.trash-${id}-${crypto.randomBytes(6).toString('hex')}`);
    await fs.promises.rename(dir, trash);
    this.browser.forget(id);
    await fs.promises.rm(trash, { recursive: true, force: true });
  }

  /** The images the person excluded from new runs (`excluded.json`; none when it is absent). */
  async excluded(id: string): Promise<DatasetExclusions> {
    await this.get(id);
    try {
      const parsed = JSON.parse(
        await fs.promises.readFile(path.join(this.dir(id), DATASET_FILES.excluded), 'utf8'),
      ) as Partial<DatasetExclusions>;
      const ints = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is number => Number.isInteger(n) && n >= 0) : []);
      const moved = await this.moved(id);
      return { train: ints(parsed.train), val: ints(parsed.val), ...(moved.train.length || moved.val.length ? { moved } : {}) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const moved = await this.moved(id);
        return { train: [], val: [], ...(moved.train.length || moved.val.length ? { moved } : {}) };
      }
      throw new DataError(`${path.join(this.dir(id), DATASET_FILES.excluded)}: ${(err as Error).message}`);
    }
  }

  /** The images the person moved to another class for new runs (`moved.json`; none when it is absent). */
  async moved(id: string): Promise<DatasetMoves> {
    const file = path.join(this.dir(id), DATASET_FILES.moved);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { train: [], val: [] };
      throw new DataError(`${file}: ${(err as Error).message}`);
    }
    const parsed = datasetMovesSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new DataError(`${file}: expected {train: [{index, from, to}], val: [...]}: ${parsed.error.message}`);
    return parsed.data;
  }

  /** Give an image another class in new runs (`to` = null moves it back); the stored image and label stay. */
  async setMoved(id: string, split: SplitName, index: number, to: number | null): Promise<DatasetExclusions> {
    const manifest = await this.get(id);
    if (!Number.isInteger(index) || index < 0 || index >= manifest.counts[split]) {
      throw new UsageError(`image index ${index} is out of range: the ${split} split of "${id}" has ${manifest.counts[split]} images`);
    }
    if (to !== null && (!Number.isInteger(to) || to < 0 || to >= manifest.classes.length)) {
      throw new UsageError(`class index ${to} is out of range: dataset "${id}" has ${manifest.classes.length} classes`);
    }
    const current = await this.moved(id);
    const { label: from } = await this.image(id, split, index);
    const kept = current[split].filter((m) => m.index !== index);
    const list = to === null || to === from ? kept : [...kept, { index, from, to }].sort((a, b) => a.index - b.index);
    await writeJsonAtomic(path.join(this.dir(id), DATASET_FILES.moved), { ...current, [split]: list });
    return this.excluded(id);
  }

  /** Exclude an image from new runs (or take it back); the stored image and its source file stay. */
  async setExcluded(id: string, split: SplitName, index: number, excluded: boolean): Promise<DatasetExclusions> {
    const manifest = await this.get(id);
    if (!Number.isInteger(index) || index < 0 || index >= manifest.counts[split]) {
      throw new UsageError(`image index ${index} is out of range: the ${split} split of "${id}" has ${manifest.counts[split]} images`);
    }
    const current = await this.excluded(id);
    const set = new Set(current[split]);
    if (excluded) set.add(index);
    else set.delete(index);
    const next = { train: current.train, val: current.val, [split]: [...set].sort((a, b) => a - b) };
    await writeJsonAtomic(path.join(this.dir(id), DATASET_FILES.excluded), next);
    return { ...next, ...(current.moved ? { moved: current.moved } : {}) };
  }

  /** Names are how people pick a dataset (the run form lists them): two with one name could not be told apart. */
  async assertNameFree(name: string, exceptId?: string): Promise<void> {
    const wanted = name.trim().toLowerCase();
    const taken = (await this.list()).find((d) => d.id !== exceptId && d.name.trim().toLowerCase() === wanted);
    if (taken) throw new UsageError(`a dataset named "${taken.name}" exists already (id ${taken.id}): choose another name`);
  }

  /** Changes the display name; the id (folder) stays, so runs that refer to it keep working. */
  async rename(id: string, name: string): Promise<DatasetManifest> {
    assertValidName(name);
    await this.assertNameFree(name, id);
    const manifest = await this.get(id);
    const updated = { ...manifest, name: name.trim() };
    await writeJsonAtomic(path.join(this.dir(id), DATASET_FILES.manifest), updated);
    return updated;
  }

  /**
   * The file each image was imported from, relative to the imported folder, per split in stored order;
   * null for datasets without them (downloads, and folder imports made before Kiln kept them).
   */
  async sources(id: string): Promise<DatasetSources | null> {
    return this.browser.sources((await this.readManifest(id)).manifest);
  }

  async classCounts(id: string): Promise<ClassCounts> {
    const m = await this.get(id);
    return { classes: m.classes, train: m.classCounts.train, val: m.classCounts.val };
  }

  /** One page of a class's images, as PNGs (dataset-browser.ts). */
  async pageOfClass(id: string, split: SplitName, classIndex: number, offset: number, limit: number): Promise<ClassPage> {
    return this.browser.pageOfClass((await this.readManifest(id)).manifest, split, classIndex, offset, limit);
  }

  async image(id: string, split: SplitName, index: number): Promise<{ png: Uint8Array; label: number; source?: string }> {
    return this.browser.image((await this.readManifest(id)).manifest, split, index);
  }

  private readManifest(id: string): Promise<{ manifest: DatasetManifest; hash: string }> {
    assertValidId(id);
    return readManifest(this.root, id);
  }
}
