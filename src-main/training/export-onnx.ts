import fs from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { DataError } from '../common/errors.ts';
import { KILN_VERSION } from '../common/version.ts';
import { graphToOnnx, ONNX_INPUT, ONNX_LAYOUTS, ONNX_OPSET, ONNX_OUTPUT, type NamedWeight, type OnnxLayout } from '../engine/onnx/graph-to-onnx.ts';
import { decodeModel } from '../engine/onnx/onnx-proto.ts';
import type { KilnExport } from './export-run.ts';
import type { RunModel } from './run-model.ts';

export const ONNX_FILE = 'model.onnx';
/** The metadata key under which model.onnx carries its own kiln.json, so the file alone can be used. */
export const ONNX_KILN_KEY = 'kiln';

/** kiln.json's account of model.onnx: how to feed it and what comes out. */
export const OnnxModelInfoSchema = z.object({
  file: z.string(),
  opset: z.number().int(),
  /** NCHW: [batch, 3, H, W]; NHWC: [batch, H, W, 3]. */
  layout: z.enum(ONNX_LAYOUTS),
  input: z.string(),
  output: z.string(),
  /** What the input holds: RGB float32 in 0..1, resized as `fit` says; the run's mean/std are applied inside the model. */
  inputRange: z.literal('0..1'),
  normalisation: z.literal('in-model'),
});
export type OnnxModelInfo = z.infer<typeof OnnxModelInfoSchema>;

export function onnxModelInfo(layout: OnnxLayout): OnnxModelInfo {
  return { file: ONNX_FILE, opset: ONNX_OPSET, layout, input: ONNX_INPUT, output: ONNX_OUTPUT, inputRange: '0..1', normalisation: 'in-model' };
}

/** The ONNX bytes of a loaded run model, with `kiln` (whose `onnx` says the layout) embedded as metadata. */
export function runModelToOnnx(loaded: RunModel, kiln: KilnExport): Uint8Array {
  if (!kiln.onnx) throw new Error('runModelToOnnx: kiln.onnx is not set');
  const weights = new Map<string, NamedWeight>();
  for (const [name, v] of loaded.model.namedVariables()) weights.set(name, { data: v.dataSync() as Float32Array, shape: v.shape });
  return graphToOnnx(loaded.graph, weights, {
    layout: kiln.onnx.layout,
    mean: kiln.mean,
    std: kiln.std,
    producerVersion: KILN_VERSION,
    docString: `${kiln.runName} (Kiln run ${kiln.runId}, ${kiln.checkpoint} checkpoint, epoch ${kiln.epoch}): ${kiln.classes.length} classes, ${kiln.imageSize}×${kiln.imageSize} RGB in 0..1`,
    metadata: { [ONNX_KILN_KEY]: JSON.stringify(kiln), classes: JSON.stringify(kiln.classes) },
  });
}

export async function writeOnnxModel(file: string, loaded: RunModel, kiln: KilnExport): Promise<void> {
  await writeFileAtomic(file, runModelToOnnx(loaded, kiln));
}

/** A model.onnx file's bytes and the kiln.json it carries (unchecked), with an error naming the file if it has none. */
export async function readOnnxKiln(file: string): Promise<{ bytes: Uint8Array; kiln: unknown }> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    throw new DataError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let metadata: Record<string, string>;
  try {
    metadata = decodeModel(bytes).metadata;
  } catch (err) {
    throw new DataError(`${file}: not an ONNX model (${(err as Error).message})`);
  }
  const text = metadata[ONNX_KILN_KEY];
  if (text === undefined) throw new DataError(`${file}: has no Kiln metadata (class names, input size); was it written by kiln export --format onnx?`);
  try {
    return { bytes, kiln: JSON.parse(text) };
  } catch (err) {
    throw new DataError(`${file}: its Kiln metadata is not valid JSON (${(err as Error).message})`);
  }
}
