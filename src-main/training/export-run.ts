import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { writeFileAtomic, writeJsonAtomic } from '../common/atomic-write.ts';
import { DataError } from '../common/errors.ts';
import { ensureWritableDir } from '../common/writable-dir.ts';
import { KILN_VERSION } from '../common/version.ts';
import { formatZodError } from '../../src-shared/zod-error.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import type { BackendChoice } from '../../src-shared/backends.ts';
import { datasetSource } from './dataset-source.ts';
import { buildLayersModel } from '../engine/model/layers-model.ts';
import { loadRunModel, type CheckpointChoice, type RunModel } from './run-model.ts';
import { assertOneFormatPerFolder } from './export-folder.ts';
import { writeOnnxModel } from './export-onnx.ts';
import { KilnExportSchema, ONNX_FILE, onnxModelInfo, type KilnExport } from './kiln-export.ts';
import { EXPORT_FORMATS, type ExportFormat, type OnnxLayout } from '../../src-shared/export-format.ts';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const KILN_FILE = 'kiln.json';

export { EXPORT_FORMATS, type ExportFormat };

export interface ExportOptions {
  checkpoint?: CheckpointChoice;
  /** Load this backend first (export does little arithmetic: cpu is the default). */
  backend?: BackendChoice;
  /** TensorFlow.js layers (default) or ONNX. */
  format?: ExportFormat;
  /** ONNX input layout (default NCHW). */
  layout?: OnnxLayout;
}

export interface ExportResult {
  dir: string;
  files: string[];
  kiln: KilnExport;
}

/** What kiln.json says about a run's checkpoint, the data it was trained on and its preprocessing. */
async function describeExport(home: string, loaded: RunModel): Promise<KilnExport> {
  const { record, dataset, spec, checkpoint } = loaded;
  const { origin } = await datasetSource(home, dataset.id).describe();
  const fit = origin?.kind === 'folder' ? origin.fit : 'crop';
  const scores = checkpoint === 'best' ? record.best : record.final;
  // 'latest' of a paused run is mid-epoch: no accuracy was measured for it.
  const measured = checkpoint === 'best' || record.status === 'finished';
  return {
    format: 1,
    runId: record.id,
    runName: record.name,
    checkpoint,
    epoch: loaded.epoch,
    classes: dataset.classes,
    imageSize: dataset.imageSize,
    fit,
    mean: dataset.mean,
    std: dataset.std,
    arch: spec,
    valAcc: measured ? (scores?.valAcc ?? null) : null,
    ttaAcc: measured ? (scores?.ttaAcc ?? null) : null,
    dataset: { id: record.dataset.id, name: record.dataset.name, manifestHash: record.dataset.manifestHash },
    kilnVersion: KILN_VERSION,
    exportedAt: new Date().toISOString(),
  };
}

/** A run's model with a checkpoint's weights and its kiln.json, for `use` to turn into an export. */
async function withRunModel<T>(
  home: string,
  runId: string,
  opts: ExportOptions,
  use: (loaded: RunModel, kiln: KilnExport) => Promise<T>,
): Promise<T> {
  await loadBackend(opts.backend ?? 'cpu');
  const loaded = await loadRunModel(home, runId, { checkpoint: opts.checkpoint ?? 'best' });
  try {
    return await use(loaded, await describeExport(home, loaded));
  } finally {
    loaded.dispose();
  }
}

/** A run's model, its weights from a checkpoint, as a tfjs-layers model with the run's preprocessing. */
export function buildRunExport(
  home: string,
  runId: string,
  opts: ExportOptions = {},
): Promise<{ model: tfl.LayersModel; kiln: KilnExport }> {
  return withRunModel(home, runId, opts, async (loaded, kiln) => ({
    model: buildLayersModel(loaded.graph, loaded.model.namedVariables() as Map<string, tf.Tensor>),
    kiln,
  }));
}

/**
 * `kiln export`: `<dir>/model.json` + `weights.bin` in the TensorFlow.js layers format (what
 * tf.loadLayersModel reads), or `<dir>/model.onnx`, and `kiln.json`. Each file is replaced atomically.
 */
export async function exportRun(home: string, runId: string, dir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  // Checked (and created) before the model is built: an unwritable place fails at once, in words.
  const out = ensureWritableDir(dir);
  assertOneFormatPerFolder(out, opts.format ?? 'tfjs', { tfjs: [MODEL_FILE, WEIGHTS_FILE], onnx: [ONNX_FILE] });
  if (opts.format === 'onnx') {
    const kiln = await withRunModel(home, runId, opts, async (loaded, info) => {
      const kiln: KilnExport = { ...info, onnx: onnxModelInfo(opts.layout ?? 'nchw') };
      await writeOnnxModel(path.join(out, ONNX_FILE), loaded, kiln);
      return kiln;
    });
    await writeJsonAtomic(path.join(out, KILN_FILE), kiln);
    return { dir: out, files: [ONNX_FILE, KILN_FILE].map((f) => path.join(out, f)), kiln };
  }
  const { model, kiln } = await buildRunExport(home, runId, opts);
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weightData = artifacts.weightData ? tf.io.concatenateArrayBuffers(artifacts.weightData) : new ArrayBuffer(0);
        const modelJson = {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
          convertedBy: `Kiln ${KILN_VERSION}`,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        };
        await writeFileAtomic(path.join(out, WEIGHTS_FILE), new Uint8Array(weightData));
        await writeJsonAtomic(path.join(out, MODEL_FILE), modelJson);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
      }),
    );
    await writeJsonAtomic(path.join(out, KILN_FILE), kiln);
  } finally {
    model.dispose();
  }
  return { dir: out, files: [MODEL_FILE, WEIGHTS_FILE, KILN_FILE].map((f) => path.join(out, f)), kiln };
}

async function readJson(file: string, dir: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    throw new DataError(
      `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is ${dir} a kiln export?`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DataError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** An export folder's kiln.json, checked. */
export async function readKilnExport(dir: string): Promise<KilnExport> {
  const file = path.join(dir, KILN_FILE);
  const parsed = KilnExportSchema.safeParse(await readJson(file, dir));
  if (!parsed.success) throw new DataError(formatZodError(parsed.error, file));
  return parsed.data;
}

/** Read an exported folder back: the layers model (weights from weights.bin) and its kiln.json. */
export async function loadExport(dir: string): Promise<{ model: tfl.LayersModel; kiln: KilnExport }> {
  const kiln = await readKilnExport(dir);
  if (kiln.onnx) throw new DataError(`${path.join(dir, KILN_FILE)}: describes an ONNX model (${kiln.onnx.file}), not a TensorFlow.js one`);
  const modelJson = (await readJson(path.join(dir, MODEL_FILE), dir)) as tf.io.ModelJSON;
  const model = await tfl.loadLayersModel({
    load: () =>
      tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const file = path.join(dir, p);
            const data = await fs.promises.readFile(file).catch((err) => {
              throw new DataError(`${file}: cannot read (${err.code ?? err.message})`);
            });
            buffers.push(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      }),
  });
  return { model, kiln };
}
