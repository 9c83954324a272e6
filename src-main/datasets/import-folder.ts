import os from 'node:os';
import path from 'node:path';
import { DataError, UsageError } from '../common/errors.ts';
import type { ImageSplit } from '../common/dataset-types.ts';
import type { FolderInspection } from '../../src-shared/contract.ts';
import type { DatasetStore } from './dataset-store.ts';
import { assertValidName, slugify } from './dataset-id.ts';
import { decodeImage, SkipImageError, type FitMode } from './decode-image.ts';
import { probeResolution, sizeReason } from './image-size.ts';
import { scanFolder, type Layout, type ScanLimits } from './scan-folder.ts';
import { stratifiedSplit } from './seeded-split.ts';
import { throttle } from '../common/throttle.ts';
import { DecodeBudget } from './decode-budget.ts';
import type { ImportProgressEvent } from '../../src-shared/dataset-progress.ts';
import { storedBytes } from '../../src-shared/dataset-size.ts';

export interface ImportFolderOptions {
  folder: string;
  /** Display name; defaults to the folder's name. The id is a slug of it. */
  name?: string;
  /** Side of the stored square images; default: the backbone's (`forBackbone`), else from the images' resolution (64 for photos, 32 for small images). */
  size?: number;
  /** The pretrained backbone the dataset is for: its input size is the default. */
  forBackbone?: { name: string; inputSize: number };
  /** Fraction of each class held out for validation when the layout has no validation folder (default 0.1). */
  valSplit?: number;
  seed?: number;
  /** crop: centre-crop to square (default); pad: fit inside with black bars. */
  fit?: FitMode;
  /** A browser upload: record `uploadedAs` (the folder's name on the person's machine) as the source, not the temp copy. */
  uploadedAs?: string;
  /** Images decoded at once (default: twice the cores, at least 8). */
  concurrency?: number;
  /** Remote mode: entries (links included) whose real path leaves these folders are refused. */
  within?: string[];
  /** Bytes of file and pixels decoding at once (default: a quarter of the machine's memory, at most 1 GiB). */
  decodeBudgetBytes?: number;
}

export interface ImportFolderSummary {
  id: string;
  name: string;
  imageSize: number;
  layout: Layout;
  /** 'auto': chosen from the images' resolution (medianShortSide); 'given': the caller's size; 'backbone': the backbone's input size. */
  sizeChosen: 'auto' | 'given' | 'backbone';
  /** Bytes the stored images take (on disk, and in memory while a run trains). */
  bytes: number;
  medianShortSide: number | null;
  classes: { name: string; train: number; val: number }[];
  train: number;
  val: number;
  skipped: { path: string; reason: string }[];
  warnings: string[];
  seconds: number;
  imagesPerSecond: number;
}

export async function importFolder(
  store: DatasetStore,
  options: ImportFolderOptions,
  onProgress: (e: ImportProgressEvent) => void = () => {},
  signal?: AbortSignal,
): Promise<ImportFolderSummary> {
  const started = performance.now();
  const folder = path.resolve(options.folder);
  const given = options.size;
  const valSplit = options.valSplit ?? 0.1;
  const seed = options.seed ?? 0;
  const fit = options.fit ?? 'crop';
  if (given !== undefined && (!Number.isInteger(given) || given < 4 || given > 1024))
    throw new UsageError(`--size: expected an integer 4..1024, got ${given}`);
  if (!(valSplit >= 0 && valSplit < 1)) throw new UsageError(`--val-split: expected a number ≥ 0 and < 1, got ${valSplit}`);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed: expected an integer, got ${seed}`);
  const name = (options.name ?? path.basename(folder)).trim();
  assertValidName(name);
  await store.assertNameFree(name);

  const scan = await scanFolder(folder, { ...(options.within ? { within: options.within } : {}) });
  signal?.throwIfAborted();
  // Header reads of a sample: milliseconds, and they say what the photos are like even when --size is given.
  const probe = await probeResolution(scan.files.map((f) => f.abs));
  const size = given ?? options.forBackbone?.inputSize ?? probe.suggestedSize;
  const sizeChosen = given !== undefined ? 'given' : options.forBackbone ? 'backbone' : 'auto';
  const reason = sizeChosen === 'backbone' ? `the input size of imagenet:${options.forBackbone!.name}` : sizeReason(probe.medianShortSide);
  onProgress({
    phase: 'scan',
    files: scan.files.length,
    imageSize: size,
    sizeChosen,
    medianShortSide: probe.medianShortSide,
    sizeReason: reason,
    bytes: storedBytes(scan.files.length, size),
  });
  const warnings = [...scan.warnings];
  if (given !== undefined && given < probe.suggestedSize && probe.medianShortSide !== null) {
    warnings.push(
      `the images are photos (median short side ${probe.medianShortSide} px); at ${given} px they lose most detail: --size ${probe.suggestedSize} usually trains better`,
    );
  }
  if (probe.medianShortSide !== null && size > probe.medianShortSide * 1.25) {
    warnings.push(
      `the images' median short side is ${probe.medianShortSide} px: stored at ${size} px they are enlarged, which adds disk and memory but no detail`,
    );
  }
  const skipped = [...scan.unreadable];
  if (scan.classes.length > 256) throw new DataError(`${folder}: ${scan.classes.length} class folders, at most 256 are supported`);

  // Decode with a bounded number in flight: sharp does the work on libuv's thread pool, one image per thread.
  const S = size;
  // More in flight than libuv has threads keeps every thread fed while files are read; measured faster than 4 (bench/dataset-import.ts).
  const concurrency = Math.max(1, options.concurrency ?? Math.max(8, 2 * os.availableParallelism()));
  const pixels: (Uint8Array | null)[] = new Array(scan.files.length).fill(null);
  let next = 0;
  let done = 0;
  let failed = 0;
  const decodeStart = performance.now();
  const emit = throttle(onProgress, 100);
  const progress = (force = false) => {
    const secs = (performance.now() - decodeStart) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    emit(
      {
        phase: 'decode',
        done,
        total: scan.files.length,
        skipped: failed,
        imagesPerSecond: Math.round(rate * 10) / 10,
        etaSeconds: rate > 0 ? Math.round(((scan.files.length - done) / rate) * 10) / 10 : null,
      },
      force,
    );
  };
  const skipReasons: (string | null)[] = new Array(scan.files.length).fill(null);
  // Pixels in memory at once are budgeted; a large decode is announced first, so a crash in it names its file.
  const budget = new DecodeBudget(options.decodeBudgetBytes);
  const workerLoop = async () => {
    while (next < scan.files.length) {
      signal?.throwIfAborted();
      const i = next++;
      try {
        const rel = scan.files[i]!.rel;
        pixels[i] = await decodeImage(scan.files[i]!.abs, {
          size: S,
          fit,
          budget,
          onLarge: () =>
            onProgress({
              phase: 'decode',
              done,
              total: scan.files.length,
              skipped: failed,
              imagesPerSecond: 0,
              etaSeconds: null,
              decoding: rel,
            }),
        });
      } catch (err) {
        if (!(err instanceof SkipImageError)) throw err;
        skipReasons[i] = err.message;
        failed++;
      }
      done++;
      progress();
    }
  };
  progress(true);
  await Promise.all(Array.from({ length: Math.min(concurrency, scan.files.length) }, workerLoop));
  signal?.throwIfAborted();
  progress(true);
  const decodeSeconds = (performance.now() - decodeStart) / 1000;
  scan.files.forEach((f, i) => skipReasons[i] !== null && skipped.push({ path: f.rel, reason: skipReasons[i]! }));

  // Split membership per file index: fixed by the layout, or drawn per class with the seed.
  const okByClass: number[][] = scan.classes.map(() => []);
  scan.files.forEach((f, i) => pixels[i] && okByClass[f.classIndex].push(i));
  const isVal = new Set<number>();
  if (scan.hasValFolder) {
    scan.files.forEach((f, i) => f.split === 'val' && isVal.add(i));
  } else {
    for (const i of stratifiedSplit(okByClass, valSplit, seed).val) isVal.add(i);
  }

  // Classes without a single usable image are left out, so the model has no output it can never learn.
  const keep = scan.classes.map((_c, k) => okByClass[k].length > 0);
  scan.classes.forEach((c, k) => {
    if (!keep[k]) warnings.push(`class "${c}" has no usable images and was left out`);
    else if (okByClass[k].every((i) => isVal.has(i))) warnings.push(`class "${c}" has no training images`);
    else if (okByClass[k].every((i) => !isVal.has(i)) && (scan.hasValFolder || valSplit > 0))
      warnings.push(`class "${c}" has no validation images`);
  });
  const classes = scan.classes.filter((_c, k) => keep[k]);
  if (classes.length < 2) {
    throw new DataError(
      `${folder}: found ${classes.length} class folder(s) with usable images, need at least 2 (expected <folder>/<class>/… or <folder>/train/<class>/…)`,
    );
  }
  const newLabel = new Map<number, number>();
  scan.classes.forEach((_c, k) => keep[k] && newLabel.set(k, newLabel.size));

  const build = (wantVal: boolean): ImageSplit & { sources: string[] } => {
    const members: number[] = [];
    okByClass.forEach((list) => list.forEach((i) => isVal.has(i) === wantVal && members.push(i)));
    const images = new Uint8Array(members.length * S * S * 3);
    const labels = new Uint8Array(members.length);
    members.forEach((i, n) => {
      images.set(pixels[i]!, n * S * S * 3);
      labels[n] = newLabel.get(scan.files[i].classIndex)!;
    });
    return { count: members.length, images, labels, sources: members.map((i) => scan.files[i].rel) };
  };
  const { sources: trainSources, ...train } = build(false);
  const { sources: valSources, ...val } = build(true);
  if (val.count === 0) warnings.push('the validation split is empty');
  signal?.throwIfAborted();

  onProgress({ phase: 'write', images: train.count + val.count });
  const id = await store.uniqueId(slugify(name));
  const manifest = await store.create(
    {
      id,
      name,
      source: {
        kind: 'folder',
        path: options.uploadedAs ?? folder,
        layout: scan.layout,
        valSplit: scan.hasValFolder ? null : valSplit,
        seed: scan.hasValFolder ? null : seed,
        fit,
        ...(options.uploadedAs !== undefined ? { uploaded: true } : {}),
        medianShortSide: probe.medianShortSide,
      },
      imageSize: S,
      classes,
      train,
      val,
      sources: { train: trainSources, val: valSources },
    },
    signal,
  );
  const seconds = (performance.now() - started) / 1000;
  const imagesPerSecond = decodeSeconds > 0 ? scan.files.length / decodeSeconds : 0;
  onProgress({ phase: 'done', id, seconds, imagesPerSecond });
  return {
    id,
    name: manifest.name,
    imageSize: S,
    layout: scan.layout,
    sizeChosen,
    bytes: storedBytes(train.count + val.count, S),
    medianShortSide: probe.medianShortSide,
    classes: classes.map((c, k) => ({ name: c, train: manifest.classCounts.train[k], val: manifest.classCounts.val[k] })),
    train: train.count,
    val: val.count,
    skipped,
    warnings,
    seconds,
    imagesPerSecond,
  };
}

/** What an import of `folder` would find (classes, files, the size it would pick), without decoding anything. */
export async function inspectFolder(folderArg: string, limits: ScanLimits = {}): Promise<FolderInspection> {
  const folder = path.resolve(folderArg);
  const scan = await scanFolder(folder, limits);
  if (scan.classes.length === 0) {
    // A flat folder of photos (or an empty one) said in the person's terms, not as "0 classes, no header read".
    throw new UsageError(
      `"${folder}" has no sub-folders: expected one sub-folder per class (e.g. ${path.join(folder, 'cats')}, ${path.join(folder, 'dogs')}), each holding that class's images`,
    );
  }
  const probe = await probeResolution(scan.files.map((f) => f.abs));
  const counts = scan.classes.map(() => 0);
  for (const f of scan.files) counts[f.classIndex]!++;
  return {
    folder,
    layout: scan.layout,
    classes: scan.classes.map((name, k) => ({ name, files: counts[k]! })),
    files: scan.files.length,
    medianShortSide: probe.medianShortSide,
    suggestedSize: probe.suggestedSize,
    sizeReason: sizeReason(probe.medianShortSide),
    warnings: scan.warnings,
  };
}
