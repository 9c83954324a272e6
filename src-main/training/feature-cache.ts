import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ImageSplit, LoadedDataset } from '../common/dataset-types.ts';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { normalisationTable } from '../engine/data/batches.ts';
import type { Model } from '../engine/model/model.ts';
import type { FeatureSplit } from '../engine/train/head-fit.ts';

/**
 * What a frozen backbone's features depend on. Any change makes the cached features stale: another import of
 * the dataset (its manifest hash), another weights file, another image size, augmentation switched on or off
 * (on, each image is also passed flipped).
 */
export interface FeatureKey {
  datasetId: string;
  manifestHash: string;
  backbone: string;
  weightsSha256: string;
  imageSize: number;
  augment: boolean;
}

export interface FeatureProgress {
  done: number;
  total: number;
  imagesPerSec: number;
  etaSeconds: number | null;
}

export interface FeaturePassOptions {
  model: Model;
  /** The graph node whose output is the features (the head's input). */
  node: string;
  mean: readonly number[];
  std: readonly number[];
  /** Images per forward pass. */
  batch?: number;
  onProgress?(p: FeatureProgress): void;
  signal?: AbortSignal;
}

export interface CachedFeatures {
  train: FeatureSplit;
  val: FeatureSplit;
  /** Images whose features were computed now (the rest came from the cache). */
  computed: number;
  file: string | null;
}

const META_VERSION = 1;
interface CacheMeta {
  version: number;
  key: FeatureKey;
  dim: number;
  views: 1 | 2;
  counts: { train: number; val: number };
}

/** `<dataset>/features/<backbone>-<size>px-<plain|flip>.{json,bin}`: removed with the dataset. */
export function featureCachePaths(datasetDir: string, key: FeatureKey): { meta: string; data: string } {
  const base = path.join(datasetDir, 'features', `${key.backbone}-${key.imageSize}px-${key.augment ? 'flip' : 'plain'}`);
  return { meta: `${base}.json`, data: `${base}.bin` };
}

/**
 * A stored split's features, as far as computed: the file holds, for every stored image (train then val),
 * `views × dim` floats, then one byte per image saying whether they are there. A pass stopped part-way
 * (a pause) keeps what it did; the next one computes only the rest.
 */
interface Store {
  dim: number;
  views: 1 | 2;
  train: { data: Float32Array; done: Uint8Array };
  val: { data: Float32Array; done: Uint8Array };
}

function readStore(paths: { meta: string; data: string }, key: FeatureKey, counts: { train: number; val: number }): Store | null {
  let meta: CacheMeta;
  let bytes: Buffer;
  try {
    meta = JSON.parse(fs.readFileSync(paths.meta, 'utf8')) as CacheMeta;
    bytes = fs.readFileSync(paths.data);
  } catch {
    return null;
  }
  // Any key that differs, or a layout this version does not write: stale, computed afresh.
  if (
    meta.version !== META_VERSION ||
    JSON.stringify(meta.key) !== JSON.stringify(key) ||
    meta.counts.train !== counts.train ||
    meta.counts.val !== counts.val
  )
    return null;
  const per = meta.views * meta.dim;
  const total = counts.train + counts.val;
  if (bytes.length !== total * per * 4 + total) return null;
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + total * per * 4));
  const done = new Uint8Array(bytes.buffer.slice(bytes.byteOffset + total * per * 4, bytes.byteOffset + bytes.length));
  return {
    dim: meta.dim,
    views: meta.views,
    train: { data: floats.subarray(0, counts.train * per), done: done.subarray(0, counts.train) },
    val: { data: floats.subarray(counts.train * per), done: done.subarray(counts.train) },
  };
}

async function writeStore(paths: { meta: string; data: string }, key: FeatureKey, store: Store): Promise<void> {
  await fs.promises.mkdir(path.dirname(paths.meta), { recursive: true });
  const counts = { train: store.train.done.length, val: store.val.done.length };
  const body = Buffer.concat([
    Buffer.from(store.train.data.buffer, store.train.data.byteOffset, store.train.data.byteLength),
    Buffer.from(store.val.data.buffer, store.val.data.byteOffset, store.val.data.byteLength),
    Buffer.from(store.train.done),
    Buffer.from(store.val.done),
  ]);
  // Data first, then the meta that vouches for it: a crash between leaves a meta that no longer matches the size.
  await writeFileAtomic(paths.data, body);
  const meta: CacheMeta = { version: META_VERSION, key, dim: store.dim, views: store.views, counts };
  await writeFileAtomic(paths.meta, Buffer.from(JSON.stringify(meta, null, 2) + '\n'));
}

/**
 * The frozen backbone's features of the images a run uses (its train and val splits, exclusions and limits
 * applied), from the cache where it has them and by a forward pass (BN in inference mode) for the rest, which
 * the cache then keeps. `storedCounts` are the dataset's full splits (the cache is indexed by stored image).
 * Without a `dir` (the built-in synthetic dataset) nothing is cached.
 */
export async function frozenFeatures(
  dataset: LoadedDataset,
  use: { train: number; val: number },
  key: FeatureKey,
  cache: { dir: string; storedCounts: { train: number; val: number } } | null,
  opts: FeaturePassOptions,
): Promise<CachedFeatures> {
  const views: 1 | 2 = key.augment ? 2 : 1;
  const paths = cache ? featureCachePaths(cache.dir, key) : null;
  const counts = cache?.storedCounts ?? { train: dataset.train.count, val: dataset.val.count };
  let store = paths ? readStore(paths, key, counts) : null;
  const trainIdx = storedIndices(dataset.train, use.train);
  const valIdx = storedIndices(dataset.val, use.val);
  const missing = (idx: Uint32Array, done: Uint8Array | undefined) => Array.from(idx).filter((i) => !done?.[i]);
  const todo = { train: missing(trainIdx, store?.train.done), val: missing(valIdx, store?.val.done) };
  const total = todo.train.length + todo.val.length;
  let computed = 0;
  if (total > 0) {
    const started = performance.now();
    const report = () => {
      const secs = (performance.now() - started) / 1000;
      const rate = secs > 0 ? computed / secs : 0;
      opts.onProgress?.({ done: computed, total, imagesPerSec: rate, etaSeconds: rate > 0 ? (total - computed) / rate : null });
    };
    report();
    try {
      for (const split of ['train', 'val'] as const) {
        const s = split === 'train' ? dataset.train : dataset.val;
        const position = new Map(Array.from(storedIndices(s, s.count)).map((stored, k) => [stored, k]));
        const wanted = todo[split];
        const batch = opts.batch ?? 16;
        for (let start = 0; start < wanted.length; start += batch) {
          opts.signal?.throwIfAborted();
          const chunk = wanted.slice(start, start + batch);
          const out = await forwardChunk(
            s,
            chunk.map((i) => position.get(i)!),
            dataset.imageSize,
            views,
            opts,
          );
          if (!store) store = emptyStore(out.dim, views, counts);
          if (out.dim !== store.dim) throw new Error(`feature pass: the backbone gives ${out.dim} features, the cache holds ${store.dim}`);
          const target = store[split];
          chunk.forEach((stored, k) => {
            target.data.set(out.data.subarray(k * views * out.dim, (k + 1) * views * out.dim), stored * views * out.dim);
            target.done[stored] = 1;
          });
          computed += chunk.length;
          report();
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      // Keep what was computed, also when the pass was stopped part-way (a pause): a resume computes only the rest.
      if (paths && store && computed > 0) await writeStore(paths, key, store);
    }
  }
  if (!store) throw new Error('feature pass: no images');
  return {
    train: gather(store, 'train', trainIdx, dataset.train.labels),
    val: gather(store, 'val', valIdx, dataset.val.labels),
    computed,
    file: paths?.data ?? null,
  };
}

/** Stored index of each of the split's first `n` images. */
function storedIndices(split: ImageSplit, n: number): Uint32Array {
  return split.indices ? split.indices.subarray(0, n) : Uint32Array.from({ length: n }, (_, i) => i);
}

function emptyStore(dim: number, views: 1 | 2, counts: { train: number; val: number }): Store {
  const make = (n: number) => ({ data: new Float32Array(n * views * dim), done: new Uint8Array(n) });
  return { dim, views, train: make(counts.train), val: make(counts.val) };
}

function gather(store: Store, split: 'train' | 'val', idx: Uint32Array, labels: Uint8Array): FeatureSplit {
  const per = store.views * store.dim;
  const data = new Float32Array(idx.length * per);
  idx.forEach((stored, k) => data.set(store[split].data.subarray(stored * per, (stored + 1) * per), k * per));
  return { count: idx.length, views: store.views, dim: store.dim, data, labels: labels.subarray(0, idx.length) };
}

/** Features of the images at `positions` of the split: [image][view][dim], the flip as the second view. */
async function forwardChunk(
  split: ImageSplit,
  positions: number[],
  size: number,
  views: 1 | 2,
  opts: FeaturePassOptions,
): Promise<{ dim: number; data: Float32Array }> {
  const per = size * size * 3;
  const lut = normalisationTable(opts.mean, opts.std);
  const n = positions.length;
  const images = new Float32Array(n * per);
  positions.forEach((p, b) => {
    for (let i = 0; i < per; i += 3) {
      const src = p * per + i;
      images[b * per + i] = lut[split.images[src]!]!;
      images[b * per + i + 1] = lut[256 + split.images[src + 1]!]!;
      images[b * per + i + 2] = lut[512 + split.images[src + 2]!]!;
    }
  });
  const out = tf.tidy(() => {
    const x = tf.tensor4d(images, [n, size, size, 3]);
    const plain = opts.model.forward(x, false, 0, opts.node);
    if (views === 1) return plain;
    const flipped = opts.model.forward(tf.reverse(x, 2), false, 0, opts.node);
    return tf.reshape(tf.stack([plain, flipped], 1), [n * 2, -1]);
  });
  const data = (await out.data()) as Float32Array;
  const dim = out.shape[1]!;
  out.dispose();
  return { dim, data };
}
