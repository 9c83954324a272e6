import fs from 'node:fs';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { DataError } from '../common/errors.ts';
import { KILN_VERSION } from '../common/version.ts';
import { graphToOnnx, type NamedWeight } from '../engine/onnx/graph-to-onnx.ts';
import { decodeModel } from '../engine/onnx/onnx-proto.ts';
import type { KilnExport } from './kiln-export.ts';
import type { RunModel } from './run-model.ts';

/** The metadata key under which model.onnx carries its own kiln.json, so the file alone can be used. */
export const ONNX_KILN_KEY = 'kiln';

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
  if (text === undefined)
    throw new DataError(`${file}: has no Kiln metadata (class names, input size); was it written by kiln export --format onnx?`);
  try {
    return { bytes, kiln: JSON.parse(text) };
  } catch (err) {
    throw new DataError(`${file}: its Kiln metadata is not valid JSON (${(err as Error).message})`);
  }
}
