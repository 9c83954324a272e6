import { withoutExcluded, type DatasetExclusions, type LoadedDataset } from '../common/dataset-types.ts';
import { UsageError } from '../common/errors.ts';
import type { StoredImage } from '../datasets/dataset-browser.ts';
import { contentHash } from '../datasets/dataset-files.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { encodePngRgb } from '../datasets/png-encode.ts';
import { describeSynthetic, makeSyntheticDataset, SYNTHETIC_CLASSES, SYNTHETIC_ID } from '../engine/data/synthetic.ts';
import type { DatasetInfo } from '../../src-shared/contract.ts';
import type { DatasetManifest, DatasetSources, SplitName } from '../../src-shared/dataset-manifest.ts';

/** A dataset as its manifest tells it: everything a run's creation needs, and not one pixel. */
export interface DatasetDescription {
  id: string;
  name: string;
  builtIn: boolean;
  imageSize: number;
  classes: string[];
  /** Images per stored split, and per class. */
  counts: { train: number; val: number };
  classCounts: { train: number[]; val: number[] };
  /** Stands for the data (the manifest's hash), so a run can tell later whether it changed. */
  manifestHash: string;
  /** The manifest as the contract shows it (a built-in dataset's short one). */
  manifest: DatasetInfo['manifest'];
  /** Where a stored dataset came from (a download, or a folder with its fit and sizes); absent for built-in ones. */
  origin?: DatasetManifest['source'];
  /** The images left out of new runs now, by stored index (none in a built-in dataset). */
  excluded: DatasetExclusions;
}

/**
 * A dataset by id, stored under the Kiln home or built in: described from its manifest alone (what creating a
 * run reads), loaded whole for training, browsed a page of images at a time. Callers never ask which kind.
 */
export interface DatasetSource {
  readonly id: string;
  readonly builtIn: boolean;
  describe(): Promise<DatasetDescription>;
  /** Every image, less `excluded` (a run's snapshot of the exclusion list, so a resume trains on the same images). */
  load(excluded?: DatasetExclusions): Promise<LoadedDataset>;
  page(split: SplitName, classIndex: number, offset: number, limit: number): Promise<{ total: number; items: StoredImage[] }>;
  image(split: SplitName, index: number): Promise<StoredImage>;
  /** The files a folder import came from, per split in stored order; null when it kept none. */
  sources(): Promise<DatasetSources | null>;
}

const NO_EXCLUSIONS: DatasetExclusions = { train: [], val: [] };

class StoredDataset implements DatasetSource {
  readonly builtIn = false;
  constructor(
    private readonly store: DatasetStore,
    readonly id: string,
  ) {}

  async describe(): Promise<DatasetDescription> {
    const [manifest, excluded] = await Promise.all([this.store.get(this.id), this.store.excluded(this.id)]);
    const { id, name, imageSize, classes, counts, classCounts } = manifest;
    return {
      id,
      name,
      builtIn: false,
      imageSize,
      classes,
      counts,
      classCounts: movedClassCounts(classCounts, excluded.moved),
      manifestHash: contentHash(manifest),
      manifest,
      origin: manifest.source,
      excluded,
    };
  }
  async load(excluded?: DatasetExclusions): Promise<LoadedDataset> {
    return withoutExcluded(await this.store.load(this.id), excluded);
  }
  async page(split: SplitName, classIndex: number, offset: number, limit: number) {
    const { total, items } = await this.store.pageOfClass(this.id, split, classIndex, offset, limit);
    return { total, items };
  }
  async image(split: SplitName, index: number): Promise<StoredImage> {
    return { index, ...(await this.store.image(this.id, split, index)) };
  }
  sources(): Promise<DatasetSources | null> {
    return this.store.sources(this.id);
  }
}

/** The procedural shapes, drawn once per process when first trained on or browsed (describing them draws nothing). */
class SyntheticDataset implements DatasetSource {
  readonly id = SYNTHETIC_ID;
  readonly builtIn = true;
  private static drawn: Promise<LoadedDataset> | undefined;

  async describe(): Promise<DatasetDescription> {
    const { imageSize, counts, classCounts, manifestHash } = describeSynthetic();
    const name = 'Synthetic shapes';
    const classes = SYNTHETIC_CLASSES;
    const manifest = { id: this.id, name, builtIn: true as const, classes, counts, imageSize };
    return { id: this.id, name, builtIn: true, imageSize, classes, counts, classCounts, manifestHash, manifest, excluded: NO_EXCLUSIONS };
  }
  load(): Promise<LoadedDataset> {
    return (SyntheticDataset.drawn ??= Promise.resolve().then(() => makeSyntheticDataset()));
  }
  async page(split: SplitName, classIndex: number, offset: number, limit: number) {
    const d = await this.load();
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= d.classes.length) {
      throw new UsageError(`class index ${classIndex} is out of range: dataset "${this.id}" has ${d.classes.length} classes`);
    }
    const members: number[] = [];
    d[split].labels.forEach((l, i) => l === classIndex && members.push(i));
    return { total: members.length, items: members.slice(offset, offset + limit).map((i) => imageOf(d, split, i)) };
  }
  async image(split: SplitName, index: number): Promise<StoredImage> {
    const d = await this.load();
    if (!Number.isInteger(index) || index < 0 || index >= d[split].count) {
      throw new UsageError(`image index ${index} is out of range: the ${split} split of "${this.id}" has ${d[split].count} images`);
    }
    return imageOf(d, split, index);
  }
  async sources(): Promise<null> {
    return null;
  }
}

function imageOf(d: LoadedDataset, split: SplitName, index: number): StoredImage {
  const per = d.imageSize * d.imageSize * 3;
  const png = encodePngRgb(d[split].images.subarray(index * per, (index + 1) * per), d.imageSize, d.imageSize);
  return { index, label: d[split].labels[index]!, png: new Uint8Array(png.buffer, png.byteOffset, png.length) };
}

const BUILT_IN: ReadonlyMap<string, DatasetSource> = new Map([[SYNTHETIC_ID, new SyntheticDataset()]]);

/** The datasets built into Kiln, listed before the stored ones. */
export function builtInDatasets(): DatasetSource[] {
  return [...BUILT_IN.values()];
}

export function isBuiltInDataset(id: string): boolean {
  return BUILT_IN.has(id);
}

/** The dataset `id`: a built-in one, or the one stored under the home (which may not exist: describe() says so). */
export function datasetSource(home: string | DatasetStore, id: string): DatasetSource {
  return BUILT_IN.get(id) ?? new StoredDataset(typeof home === 'string' ? new DatasetStore(home) : home, id);
}

/** Per-class counts as new runs see them: each moved image counted under its new class. */
function movedClassCounts(
  counts: { train: number[]; val: number[] },
  moved: DatasetExclusions['moved'],
): { train: number[]; val: number[] } {
  if (!moved) return counts;
  const shift = (c: number[], moves: { from: number; to: number }[]) => {
    const out = [...c];
    for (const m of moves) {
      out[m.from] = (out[m.from] ?? 0) - 1;
      out[m.to] = (out[m.to] ?? 0) + 1;
    }
    return out;
  };
  return { train: shift(counts.train, moved.train), val: shift(counts.val, moved.val) };
}
