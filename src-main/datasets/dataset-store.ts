import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { encodePngRgb } from './png-encode.ts';
import { DataError, DatasetNotFoundError, UsageError } from '../common/errors.ts';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import type { DatasetExclusions, ImageSplit, LoadedDataset } from '../common/dataset-types.ts';
import { assertValidId, assertValidName, RESERVED_IDS } from './dataset-id.ts';
import { channelStats } from '../common/channel-stats.ts';
import { describeFsError } from '../common/fs-errors.ts';
import { fsyncDir } from '../common/fsync-dir.ts';
import { injectedDiskFull } from '../common/test-faults.ts';
import {
  DATASET_FILES,
  FORMAT_VERSION,
  datasetManifestSchema,
  datasetSourcesSchema,
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

/** An image as the store gives it: PNG bytes (the contract's ImageItem carries them as base64). */
export interface StoredImage {
  index: number;
  label: number;
  png: Uint8Array;
  /** The file it was imported from, relative to the imported folder (folder imports only). */
  source?: string;
}

export interface ClassPage {
  classIndex: number;
  split: SplitName;
  /** How many images of this class the split holds, so a browser can size its scroll area. */
  total: number;
  offset: number;
  items: StoredImage[];
}

interface SplitIndex {
  labels: Uint8Array;
  /** Image indices of each class, in stored order. */
  byClass: Uint32Array[];
}

/**
 * Datasets on disk: <home>/datasets/<id>/ holding manifest.json and raw uint8
 * records. A dataset folder appears only by rename of a finished temp folder,
 * so readers never see half of one.
 */
export class DatasetStore {
  readonly root: string;
  private readonly indexCache = new Map<string, { key: string; splits: Partial<Record<SplitName, SplitIndex>> }>();
  private readonly sourcesCache = new Map<string, { key: string; sources: DatasetSources | null }>();

  constructor(home: string) {
    this.root = path.join(path.resolve(home), 'datasets');
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
    return fs.promises.access(path.join(this.dir(id), DATASET_FILES.manifest)).then(() => true, () => false);
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
      const exists = await fs.promises.access(path.join(this.root, id)).then(() => true, () => false);
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
        throw new Error(`internal: ${split} split has ${s.images.length} image bytes and ${s.labels.length} labels for ${s.count} images of ${S}×${S}`);
      }
      for (const l of s.labels) if (l >= data.classes.length) throw new Error(`internal: ${split} label ${l} ≥ ${data.classes.length} classes`);
    }
    if (data.train.count === 0) throw new DataError(`dataset "${data.name}" has no training images`);
    for (const split of ['train', 'val'] as const) {
      const n = data.sources?.[split].length;
      if (n !== undefined && n !== data[split].count) throw new Error(`internal: ${n} ${split} source paths for ${data[split].count} images`);
    }
    if (await this.has(data.id)) throw new UsageError(`dataset "${data.id}" already exists; remove it first with \`kiln dataset rm ${data.id}\``);

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
      const [images, labels] = await Promise.all([
        readExact(path.join(dir, split === 'train' ? DATASET_FILES.trainImages : DATASET_FILES.valImages), count * S * S * 3),
        readExact(path.join(dir, split === 'train' ? DATASET_FILES.trainLabels : DATASET_FILES.valLabels), count),
      ]);
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
    this.indexCache.delete(id);
    this.sourcesCache.delete(id);
    await fs.promises.rm(trash, { recursive: true, force: true });
  }

  /** The images the person excluded from new runs (`excluded.json`; none when it is absent). */
  async excluded(id: string): Promise<DatasetExclusions> {
    await this.get(id);
    try {
      const parsed = JSON.parse(await fs.promises.readFile(path.join(this.dir(id), DATASET_FILES.excluded), 'utf8')) as Partial<DatasetExclusions>;
      const ints = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is number => Number.isInteger(n) && n >= 0) : []);
      return { train: ints(parsed.train), val: ints(parsed.val) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { train: [], val: [] };
      throw new DataError(`${path.join(this.dir(id), DATASET_FILES.excluded)}: ${(err as Error).message}`);
    }
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
    const next = { ...current, [split]: [...set].sort((a, b) => a - b) };
    await writeJsonAtomic(path.join(this.dir(id), DATASET_FILES.excluded), next);
    return next;
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
    return this.sourcesOf((await this.readManifest(id)).manifest);
  }

  private async sourcesOf(manifest: DatasetManifest): Promise<DatasetSources | null> {
    const id = manifest.id;
    const key = cacheKey(manifest);
    const cached = this.sourcesCache.get(id);
    if (cached?.key === key) return cached.sources;
    const file = path.join(this.dir(id), DATASET_FILES.sources);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.sourcesCache.set(id, { key, sources: null });
      return null;
    }
    let parsed;
    try {
      parsed = datasetSourcesSchema.safeParse(JSON.parse(text));
    } catch (err) {
      throw new DataError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    if (!parsed.success) throw new DataError(`${file}: expected {"train": [paths], "val": [paths]}`);
    for (const split of ['train', 'val'] as const) {
      if (parsed.data[split].length !== manifest.counts[split]) {
        throw new DataError(`${file}: ${parsed.data[split].length} ${split} paths, expected ${manifest.counts[split]} (one per image)`);
      }
    }
    this.sourcesCache.set(id, { key, sources: parsed.data });
    return parsed.data;
  }

  async classCounts(id: string): Promise<ClassCounts> {
    const m = await this.get(id);
    return { classes: m.classes, train: m.classCounts.train, val: m.classCounts.val };
  }

  async pageOfClass(id: string, split: SplitName, classIndex: number, offset: number, limit: number): Promise<ClassPage> {
    const { manifest } = await this.readManifest(id);
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= manifest.classes.length) {
      throw new UsageError(`class index ${classIndex} is out of range: dataset "${id}" has ${manifest.classes.length} classes`);
    }
    if (!Number.isInteger(offset) || offset < 0) throw new UsageError(`offset: expected an integer ≥ 0, got ${offset}`);
    if (!Number.isInteger(limit) || limit < 0 || limit > 1000) throw new UsageError(`limit: expected an integer 0..1000, got ${limit}`);
    const index = await this.splitIndex(manifest, split);
    const members = index.byClass[classIndex];
    const chosen = Array.from(members.subarray(offset, offset + limit));
    const items = await this.readImages(manifest, split, chosen, index.labels);
    return { classIndex, split, total: members.length, offset, items };
  }

  async image(id: string, split: SplitName, index: number): Promise<{ png: Uint8Array; label: number; source?: string }> {
    const { manifest } = await this.readManifest(id);
    const count = manifest.counts[split];
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new UsageError(`image index ${index} is out of range: the ${split} split of "${id}" has ${count} images`);
    }
    const labels = (await this.splitIndex(manifest, split)).labels;
    const [item] = await this.readImages(manifest, split, [index], labels);
    return { png: item.png, label: item.label, ...(item.source !== undefined ? { source: item.source } : {}) };
  }

  private async readManifest(id: string): Promise<{ manifest: DatasetManifest; hash: string }> {
    const file = path.join(this.dir(id), DATASET_FILES.manifest);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const hint = RESERVED_IDS.has(id) ? ' (it is built into the engine, not stored)' : '';
        throw new DatasetNotFoundError(`no dataset "${id}" in ${this.root}${hint}`);
      }
      throw err;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new DataError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    const parsed = datasetManifestSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DataError(`${file}: field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
    }
    if (parsed.data.id !== id) throw new DataError(`${file}: field "id" is "${parsed.data.id}", expected "${id}" (the folder name)`);
    return { manifest: parsed.data, hash: contentHash(parsed.data) };
  }

  private async splitIndex(manifest: DatasetManifest, split: SplitName): Promise<SplitIndex> {
    const key = cacheKey(manifest);
    let entry = this.indexCache.get(manifest.id);
    if (!entry || entry.key !== key) {
      entry = { key, splits: {} };
      this.indexCache.set(manifest.id, entry);
    }
    const cached = entry.splits[split];
    if (cached) return cached;
    const labels = await readExact(
      path.join(this.dir(manifest.id), split === 'train' ? DATASET_FILES.trainLabels : DATASET_FILES.valLabels),
      manifest.counts[split],
    );
    const counts = new Array<number>(manifest.classes.length).fill(0);
    for (const l of labels) counts[l]++;
    const byClass = counts.map((c) => new Uint32Array(c));
    const fill = new Array<number>(manifest.classes.length).fill(0);
    for (let i = 0; i < labels.length; i++) byClass[labels[i]][fill[labels[i]]++] = i;
    const index = { labels, byClass };
    entry.splits[split] = index;
    return index;
  }

  private async readImages(manifest: DatasetManifest, split: SplitName, indices: number[], labels: Uint8Array): Promise<StoredImage[]> {
    if (indices.length === 0) return [];
    const S = manifest.imageSize;
    const bytes = S * S * 3;
    const file = path.join(this.dir(manifest.id), split === 'train' ? DATASET_FILES.trainImages : DATASET_FILES.valImages);
    const sources = (await this.sourcesOf(manifest))?.[split];
    const handle = await fs.promises.open(file, 'r');
    try {
      return await Promise.all(
        indices.map(async (index) => {
          const raw = Buffer.alloc(bytes);
          const { bytesRead } = await handle.read(raw, 0, bytes, index * bytes);
          if (bytesRead !== bytes) throw new DataError(`${file}: truncated, image ${index} is past its end`);
          const png = encodePngRgb(raw, S, S);
          const item: StoredImage = { index, label: labels[index], png: new Uint8Array(png.buffer, png.byteOffset, png.length) };
          if (sources) item.source = sources[index];
          return item;
        }),
      );
    } finally {
      await handle.close();
    }
  }
}

/** Hash of what the data is, leaving out the display name, so renaming a dataset does not make old runs look stale. */
function contentHash(manifest: DatasetManifest): string {
  const { name: _name, ...rest } = manifest;
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

async function readExact(file: string, expected: number): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`${file}: missing`);
    throw err;
  }
  if (buf.length !== expected) throw new DataError(`${file}: expected ${expected} bytes, found ${buf.length}`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Identifies one stored version of a dataset (a re-import under the same id has a new createdAt): keys the per-id caches. */
function cacheKey(manifest: DatasetManifest): string {
  return `${manifest.createdAt}|${manifest.counts.train}|${manifest.counts.val}`;
}

async function writeSynced(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await fs.promises.open(file, 'w');
  try {
    await handle.writeFile(bytes);
    injectedDiskFull('dataset', file);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
