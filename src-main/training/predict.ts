import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Prediction } from '../../src-shared/contract.ts';
import { DataError } from '../common/errors.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import type { BackendChoice } from '../../src-shared/backends.ts';
import { formatZodError } from '../../src-shared/zod-error.ts';
import { openOnnxSession } from '../engine/onnx/onnx-runtime.ts';
import { normalisationTable } from '../engine/data/batches.ts';
import { decodeImage, type DecodeOptions } from '../datasets/decode-image.ts';
import { parseBackboneRef } from '../engine/backbones/registry.ts';
import { loadImagenetModel } from './imagenet-model.ts';
import { IMAGE_EXTENSIONS } from '../datasets/scan-folder.ts';
import { buildRunExport, KILN_FILE, loadExport, readKilnExport } from './export-run.ts';
import { KilnExportSchema, type KilnExport } from './kiln-export.ts';
import { readOnnxKiln } from './export-onnx.ts';
import type { CheckpointChoice } from './run-model.ts';

export interface FilePrediction extends Prediction {
  file: string;
  /** Index of the most probable class. */
  classIndex: number;
}

export interface PredictFailure {
  file: string;
  error: string;
}

const BATCH = 64;

/** Logits [n × classes] for a batch of size×size×3 byte images (HWC). */
type Scorer = (images: Uint8Array[]) => Promise<tf.Tensor2D>;

/** A trained model and the preprocessing it was trained with, from an export folder, an .onnx file or a run. */
export class Classifier {
  private constructor(
    readonly kiln: KilnExport,
    /** Where it came from: the export folder, the .onnx file, or `run <id>`. */
    readonly source: string,
    /** Which runtime computes it: TensorFlow.js, or ONNX Runtime for an ONNX export. */
    readonly runtime: 'tfjs' | 'onnx',
    private readonly scorer: Scorer,
    private readonly release: () => void,
    /** How files are decoded: the dataset import's resize unless the model says otherwise (a backbone's config). */
    private readonly decodeOptions: DecodeOptions = { size: kiln.imageSize, fit: kiln.fit },
    /** For imagenet:NAME, the stored weights it runs (their SHA-256, and whether they are the pinned file). */
    readonly weights: { sha256: string; verified: boolean } | null = null,
  ) {}

  /**
   * `target` is an export folder (it has kiln.json), a model.onnx written by kiln export, a run id, or
   * `imagenet:NAME`: a pretrained backbone stored in the Kiln home, with its ImageNet head.
   */
  static async open(
    home: string,
    target: string,
    opts: { checkpoint?: CheckpointChoice; backend?: BackendChoice } = {},
  ): Promise<Classifier> {
    const backbone = parseBackboneRef(target);
    // A full-size backbone at 224 px is seconds per image on tfjs's pure-JS cpu backend: wasm unless asked.
    await loadBackend(opts.backend ?? (backbone !== null ? 'wasm' : 'cpu'));
    if (backbone !== null) {
      const m = await loadImagenetModel(home, backbone);
      const layers = Classifier.fromLayers(m.model, m.kiln, target);
      return new Classifier(m.kiln, target, 'tfjs', layers.scorer, layers.release, m.decode, {
        sha256: m.record.sha256,
        verified: m.record.verified,
      });
    }
    if (target.toLowerCase().endsWith('.onnx') && fs.existsSync(target) && fs.statSync(target).isFile()) {
      const { bytes, kiln } = await readOnnxKiln(target);
      const parsed = KilnExportSchema.safeParse(kiln);
      if (!parsed.success) throw new DataError(formatZodError(parsed.error, `${target} (its Kiln metadata)`));
      if (!parsed.data.onnx) throw new DataError(`${target}: its Kiln metadata does not describe an ONNX model`);
      return Classifier.fromOnnx(parsed.data, bytes, path.resolve(target));
    }
    if (fs.existsSync(path.join(target, KILN_FILE))) {
      const kiln = await readKilnExport(target);
      if (kiln.onnx) {
        const file = path.join(target, kiln.onnx.file);
        const bytes = await fs.promises.readFile(file).catch((err) => {
          throw new DataError(`${file}: cannot read (${err.code ?? err.message})`);
        });
        return Classifier.fromOnnx(kiln, bytes, path.resolve(target));
      }
      const { model } = await loadExport(target);
      return Classifier.fromLayers(model, kiln, path.resolve(target));
    }
    if (fs.existsSync(target) && fs.statSync(target).isDirectory())
      throw new DataError(`${target}: has no ${KILN_FILE}; expected a folder written by kiln export, or a run id`);
    const { model, kiln } = await buildRunExport(home, target, { ...opts, backend: opts.backend ?? 'cpu' });
    return Classifier.fromLayers(model, kiln, `run ${target}`);
  }

  private static fromLayers(model: tfl.LayersModel, kiln: KilnExport, source: string): Classifier {
    const lut = normalisationTable(kiln.mean, kiln.std);
    const S = kiln.imageSize;
    const scorer: Scorer = async (images) => {
      const x = new Float32Array(images.length * S * S * 3);
      images.forEach((img, b) => {
        for (let i = 0; i < img.length; i += 3) {
          x[b * img.length + i] = lut[img[i]!]!;
          x[b * img.length + i + 1] = lut[256 + img[i + 1]!]!;
          x[b * img.length + i + 2] = lut[512 + img[i + 2]!]!;
        }
      });
      return tf.tidy(() => model.predict(tf.tensor4d(x, [images.length, S, S, 3])) as tf.Tensor2D);
    };
    return new Classifier(kiln, source, 'tfjs', scorer, () => model.dispose());
  }

  private static async fromOnnx(kiln: KilnExport, bytes: Uint8Array, source: string): Promise<Classifier> {
    const session = await openOnnxSession(bytes).catch((err) => {
      throw new DataError(`${source}: ONNX Runtime cannot load the model (${(err as Error).message})`);
    });
    const S = kiln.imageSize;
    const nchw = kiln.onnx!.layout === 'nchw';
    const scorer: Scorer = async (images) => {
      const x = new Float32Array(images.length * S * S * 3);
      images.forEach((img, b) => {
        const base = b * S * S * 3;
        for (let p = 0; p < S * S; p++) {
          for (let c = 0; c < 3; c++) x[base + (nchw ? c * S * S + p : p * 3 + c)] = img[p * 3 + c]! / 255;
        }
      });
      const logits = await session.run(x, nchw ? [images.length, 3, S, S] : [images.length, S, S, 3]);
      return tf.tensor2d(logits, [images.length, kiln.classes.length]);
    };
    return new Classifier(kiln, source, 'onnx', scorer, () => void session.release());
  }

  /** Decode a file exactly as the dataset import did (same resize and fit) into size×size RGB bytes. */
  decode(file: string): Promise<Uint8Array> {
    return decodeImage(file, this.decodeOptions);
  }

  /** Class probabilities for images of size×size×3 bytes (HWC), preprocessed as in training. */
  async probabilities(images: Uint8Array[]): Promise<Float32Array[]> {
    return (await this.scores(images)).probs;
  }

  /** Logits and class probabilities for images of size×size×3 bytes (HWC), preprocessed as in training. */
  async scores(images: Uint8Array[]): Promise<{ logits: Float32Array[]; probs: Float32Array[] }> {
    const S = this.kiln.imageSize;
    const k = this.kiln.classes.length;
    const out: Float32Array[] = [];
    const raw: Float32Array[] = [];
    for (let start = 0; start < images.length; start += BATCH) {
      const batch = images.slice(start, start + BATCH);
      batch.forEach((img, b) => {
        if (img.length !== S * S * 3) throw new Error(`image ${start + b}: ${img.length} bytes, expected ${S}×${S}×3`);
      });
      const logits = await this.scorer(batch);
      const probs = tf.tidy(() => tf.softmax(logits));
      const data = (await probs.data()) as Float32Array;
      const values = (await logits.data()) as Float32Array;
      tf.dispose([logits, probs]);
      for (let b = 0; b < batch.length; b++) {
        out.push(data.slice(b * k, (b + 1) * k));
        raw.push(values.slice(b * k, (b + 1) * k));
      }
    }
    return { logits: raw, probs: out };
  }

  /** Top-k classes of image files; a file that cannot be decoded is reported, not fatal. */
  /** `logits`: each prediction also carries the model's raw logits (all classes). */
  async predictFiles(
    files: string[],
    top = 3,
    opts: { logits?: boolean } = {},
  ): Promise<{ predictions: (FilePrediction & { logits?: number[] })[]; failures: PredictFailure[] }> {
    const decoded: { file: string; pixels: Uint8Array }[] = [];
    const failures: PredictFailure[] = [];
    for (const file of files) {
      try {
        decoded.push({ file, pixels: await this.decode(file) });
      } catch (err) {
        failures.push({ file, error: (err as Error).message });
      }
    }
    const { probs, logits } = await this.scores(decoded.map((d) => d.pixels));
    const predictions = decoded.map((d, i) => {
      const ranked = topK(probs[i]!, this.kiln.classes, top);
      // By index, not by name: ImageNet has two classes named "crane" (the bird, the machine).
      const classIndex = probs[i]!.reduce((best, p, c, all) => (p > all[best]! ? c : best), 0);
      return { file: d.file, classIndex, top: ranked, ...(opts.logits ? { logits: Array.from(logits[i]!) } : {}) };
    });
    return { predictions, failures };
  }

  dispose(): void {
    this.release();
  }
}

/** The k most probable classes, most probable first (ties: lower class index first). */
export function topK(probs: ArrayLike<number>, classes: string[], k: number): Prediction['top'] {
  return Array.from({ length: classes.length }, (_, c) => c)
    .sort((a, b) => probs[b]! - probs[a]! || a - b)
    .slice(0, Math.max(1, Math.min(k, classes.length)))
    .map((c) => ({ className: classes[c]!, probability: probs[c]! }));
}

/** An image file to classify; `folder` is the folder named on the command line it was found in, if any. */
export interface ImageFile {
  file: string;
  folder?: string;
}

/** Files named on the command line, and image files found under folders (recursively, sorted), with paths as given. */
export async function collectImageFiles(paths: string[]): Promise<ImageFile[]> {
  const files: ImageFile[] = [];
  const walk = async (dir: string, folder: string) => {
    const entries = (await fs.promises.readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name, 'en', { numeric: true }),
    );
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p, folder);
      else if (e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) files.push({ file: p, folder });
    }
  };
  for (const p of paths) {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(p);
    } catch {
      throw new DataError(`${p}: no such file or folder`);
    }
    if (stat.isDirectory()) await walk(p, p);
    else files.push({ file: p });
  }
  return files;
}

/**
 * The class an image's folder names, as in an imported dataset (<folder>/<class>/… or
 * <folder>/<split>/<class>/…): the nearest folder below the one named on the command line whose
 * name is a class. Null for files named directly or outside class folders.
 */
export function classFromFolder(f: ImageFile, classes: string[]): string | null {
  if (f.folder === undefined) return null;
  const dirs = path.relative(f.folder, path.dirname(f.file)).split(path.sep).filter(Boolean);
  for (let i = dirs.length - 1; i >= 0; i--) if (classes.includes(dirs[i]!.normalize('NFC'))) return dirs[i]!.normalize('NFC');
  return null;
}

export interface PredictionSummary {
  images: number;
  failed: number;
  /** How many images were predicted as each class, in the model's class order. */
  predicted: { className: string; count: number }[];
  /** Images whose folder names a class (see classFromFolder), and how many of them were predicted as it. */
  labelled: number;
  correct: number;
  /** correct / labelled, or null when no image sits in a class folder. */
  accuracy: number | null;
}

export function summarizeFilePredictions(
  predictions: (FilePrediction & { folderClass?: string | null })[],
  failed: number,
  classes: string[],
): PredictionSummary {
  const counts = new Array<number>(classes.length).fill(0);
  let labelled = 0;
  let correct = 0;
  for (const p of predictions) {
    counts[p.classIndex]!++;
    if (p.folderClass) {
      labelled++;
      if (classes[p.classIndex] === p.folderClass) correct++;
    }
  }
  return {
    images: predictions.length,
    failed,
    predicted: classes.map((className, c) => ({ className, count: counts[c]! })),
    labelled,
    correct,
    accuracy: labelled > 0 ? correct / labelled : null,
  };
}
