import type { Graph } from '../arch/graph.ts';
import type { Model } from '../model/model.ts';
import type { NamedWeight } from '../layers/onnx-emit.ts';
import { assignVariables } from '../train/checkpoint.ts';
import type { BackboneInfo } from './registry.ts';
import { SafetensorsFile } from './safetensors.ts';
import { checkTorchTensors, mapTorchWeights, type TorchMappingOptions } from './torch-weights.ts';

/**
 * A backbone's weights file (safetensors, PyTorch layout) as Kiln's variables for `graph`, a graph of the
 * backbone's spec (any input size; any class count when `skip` leaves the head out, e.g. `skip: new
 * Set(headParamNames(graph))`). Throws a DataError that names the file and the tensors that do not fit.
 */
export async function loadBackboneWeights(
  file: string,
  backbone: Pick<BackboneInfo, 'torchName'>,
  graph: Graph,
  opts: { skip?: ReadonlySet<string> } = {},
): Promise<Map<string, NamedWeight>> {
  const st = await SafetensorsFile.read(file);
  return mapTorchWeights(graph, st, mappingOptions(backbone, opts.skip));
}

function mappingOptions(backbone: Pick<BackboneInfo, 'torchName'>, skip?: ReadonlySet<string>): TorchMappingOptions {
  return { ...(backbone.torchName ? { rename: backbone.torchName } : {}), ...(skip ? { skip: (n: string) => skip.has(n) } : {}) };
}

/** Problems with a file's tensor names and shapes against the backbone's architecture (empty: it fits). */
export async function checkBackboneFile(file: string, backbone: Pick<BackboneInfo, 'torchName'>, graph: Graph): Promise<string[]> {
  const st = await SafetensorsFile.read(file);
  return checkTorchTensors(graph, st, mappingOptions(backbone));
}

/** Give the model's variables these weights, except names in `skip` (e.g. a head replaced for new classes). */
export function assignWeights(model: Model, weights: ReadonlyMap<string, NamedWeight>, skip: ReadonlySet<string> = new Set()): void {
  assignVariables(
    [...model.namedVariables()].filter(([name]) => !skip.has(name)),
    (name, shape) => {
      const w = weights.get(name);
      if (!w) throw new Error(`backbone: no weights for ${name}`);
      if (w.shape.join() !== shape.join()) throw new Error(`backbone: ${name} has shape [${w.shape}], the model expects [${shape}]`);
      return w.data;
    },
  );
}
