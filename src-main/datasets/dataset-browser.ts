import fs from 'node:fs';
import path from 'node:path';
import { encodePngRgb } from './png-encode.ts';
import { DataError, UsageError } from '../common/errors.ts';
import { cacheKey, readExact, splitFiles } from './dataset-files.ts';
import {
  DATASET_FILES,
  datasetSourcesSchema,
  type DatasetManifest,
  type DatasetSources,
  type SplitName,
} from '../../src-shared/dataset-manifest.ts';
import { readTextOrNull } from '../common/read-text.ts';

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
 * Browsing stored datasets a few images at a time (pages of one class, single images, their
 * source files), reading only the bytes shown; the per-class index and sources stay cached per
 * stored version of a dataset.
 */
export class DatasetBrowser {
  private readonly indexCache = new Map<string, { key: string; splits: Partial<Record<SplitName, SplitIndex>> }>();
  private readonly sourcesCache = new Map<string, { key: string; sources: DatasetSources | null }>();

  constructor(private readonly root: string) {}

  /** Drop what is cached for a dataset (it was removed). */
  forget(id: string): void {
    this.indexCache.delete(id);
    this.sourcesCache.delete(id);
  }

  async sources(manifest: DatasetManifest): Promise<DatasetSources | null> {
    const id = manifest.id;
    const key = cacheKey(manifest);
    const cached = this.sourcesCache.get(id);
    if (cached?.key === key) return cached.sources;
    const file = path.join(this.root, id, DATASET_FILES.sources);
    const text = await readTextOrNull(file);
    if (text === null) {
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

  async pageOfClass(manifest: DatasetManifest, split: SplitName, classIndex: number, offset: number, limit: number): Promise<ClassPage> {
    const id = manifest.id;
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

  async image(manifest: DatasetManifest, split: SplitName, index: number): Promise<{ png: Uint8Array; label: number; source?: string }> {
    const count = manifest.counts[split];
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new UsageError(`image index ${index} is out of range: the ${split} split of "${manifest.id}" has ${count} images`);
    }
    const labels = (await this.splitIndex(manifest, split)).labels;
    const [item] = await this.readImages(manifest, split, [index], labels);
    return { png: item.png, label: item.label, ...(item.source !== undefined ? { source: item.source } : {}) };
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
    const labels = await readExact(splitFiles(path.join(this.root, manifest.id), split).labels, manifest.counts[split]);
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
    const file = splitFiles(path.join(this.root, manifest.id), split).images;
    const sources = (await this.sources(manifest))?.[split];
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
