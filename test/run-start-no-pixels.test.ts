/**
 * Starting a run reads no image in the calling process (the app's main process: runs.start → RunManager.start →
 * createRun): the dataset is described from its manifest, resolved and recorded; only the trainer, in its own
 * process, loads pixels. The same spy shows a load does read the image files, so the test can fail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { loadDataset } from '../src-main/training/load-dataset.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { DATASET_FILES } from '../src-shared/dataset-manifest.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-no-pixels-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const PIXEL_FILES = [DATASET_FILES.trainImages, DATASET_FILES.trainLabels, DATASET_FILES.valImages, DATASET_FILES.valLabels];

/** A CIFAR-10-shaped dataset (32×32, ten classes, stored as a download is) of a few hundred images. */
async function storeCifarLike(): Promise<void> {
  const split = (count: number) => ({
    count,
    images: new Uint8Array(count * 32 * 32 * 3).map((_, i) => (i * 31) % 256),
    labels: new Uint8Array(count).map((_, i) => i % 10),
  });
  const store = new DatasetStore(home);
  await store.create({
    id: 'cifar10',
    name: 'CIFAR-10',
    source: { kind: 'cifar10', url: 'https://example.invalid/cifar-10-binary.tar.gz', checksum: null },
    imageSize: 32,
    classes: CLASSES,
    train: split(400),
    val: split(100),
  });
  // One training image left out: the run's counts must account for it without reading any image.
  await store.setExcluded('cifar10', 'train', 7, true);
}

/** Every file this process opens or reads while `fn` runs, by any of the fs calls the code base uses. */
async function filesReadDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const record = (p: unknown) => void seen.push(String(p instanceof URL ? p.pathname : p));
  const wrap = <T extends object, K extends keyof T>(obj: T, key: K) => {
    const original = obj[key] as (...args: unknown[]) => unknown;
    vi.spyOn(obj, key as never).mockImplementation(((...args: unknown[]) => (record(args[0]), original.apply(obj, args))) as never);
  };
  wrap(fs.promises, 'readFile');
  wrap(fs.promises, 'open');
  wrap(fs, 'readFileSync');
  wrap(fs, 'openSync');
  wrap(fs, 'createReadStream');
  await fn();
  return seen;
}

describe('starting a run', () => {
  it('reads the manifest and the exclusion list, and no image or label file', async () => {
    await storeCifarLike();
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, { data: { dataset: 'cifar10' }, net: { arch: 'resnet-9-s' }, opt: { epochs: 1 } });
    let record!: Awaited<ReturnType<typeof createRun>>;
    const read = await filesReadDuring(async () => (record = await createRun(home, config)));
    const names = read.filter((p) => p.startsWith(home)).map((p) => path.basename(p));
    expect(names).toContain(DATASET_FILES.manifest);
    expect(names).toContain(DATASET_FILES.excluded);
    expect(names.filter((n) => PIXEL_FILES.includes(n as never))).toEqual([]);
    // Counts, classes and hash came from the manifest: 400 stored, one excluded.
    expect(record.dataset).toMatchObject({ id: 'cifar10', train: 399, val: 100, classes: CLASSES, excluded: { train: [7], val: [] } });
    expect(record.resolved).toMatchObject({ trainCount: 399, valCount: 100 });
    expect(record.dataset.manifestHash).toBe((await loadDataset(home, 'cifar10')).manifestHash);
  });

  it('(the spy sees image reads: loading the dataset, as the trainer does, reads every pixel file)', async () => {
    const read = await filesReadDuring(() => loadDataset(home, 'cifar10'));
    expect(
      read
        .map((p) => path.basename(p))
        .filter((n) => PIXEL_FILES.includes(n as never))
        .sort(),
    ).toEqual([...PIXEL_FILES].sort());
  });

  it('describes the built-in dataset as drawing it would: counts per class and the hash the trainer checks', async () => {
    const { datasetSource } = await import('../src-main/training/dataset-source.ts');
    const { makeSyntheticDataset } = await import('../src-main/engine/data/synthetic.ts');
    const described = await datasetSource(home, 'synthetic').describe();
    const drawn = makeSyntheticDataset();
    const perClass = (labels: Uint8Array) => described.classes.map((_, c) => labels.filter((l) => l === c).length);
    expect(described.classCounts).toEqual({ train: perClass(drawn.train.labels), val: perClass(drawn.val.labels) });
    expect(described.counts).toEqual({ train: drawn.train.count, val: drawn.val.count });
    expect(described.manifestHash).toBe(drawn.manifestHash);
    const record = await createRun(home, mergeRunConfig(DEFAULT_RUN_CONFIG, { data: { dataset: 'synthetic' }, opt: { epochs: 1 } }));
    expect(record.dataset).toMatchObject({ id: 'synthetic', train: 5000, val: 1000, manifestHash: drawn.manifestHash });
  });
});
