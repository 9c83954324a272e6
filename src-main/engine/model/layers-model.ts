import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Graph } from '../arch/graph.ts';
import { layerOf, type GraphNode } from '../layers/registry.ts';
import type { ExportContext } from '../layers/layer-module.ts';

/** Graph node names use '/' as a scope separator; layer names keep them readable with '_'. */
export const layerName = (node: string) => node.replace(/\//g, '_');

/**
 * The graph IR as a tfjs-layers functional model with the given weights (engine names:
 * `<node>/kernel`, `<node>/gamma`, …); each node's layer comes from its layer module's `export`.
 */
export function buildLayersModel(graph: Graph, weights: Map<string, tf.Tensor>): tfl.LayersModel {
  const consumers = new Map<string, GraphNode[]>();
  for (const node of graph.nodes) {
    for (const i of layerOf(node).inputs(node)) consumers.set(i, [...(consumers.get(i) ?? []), node]);
  }
  const names = new Set<string>();
  const uniqueName = (node: string) => {
    const n = layerName(node);
    if (names.has(n)) throw new Error(`export: two graph nodes map to the layer name ${n}`);
    names.add(n);
    return n;
  };
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new Error(`export: the checkpoint has no tensor ${name}`);
    return w;
  };
  const values = new Map<string, tfl.SymbolicTensor>();
  const assignments: [tfl.layers.Layer, tf.Tensor[]][] = [];
  const input = tfl.input({ shape: graph.inputShape, name: 'input' });
  values.set('input', input);
  const get = (name: string) => {
    const v = values.get(name);
    if (!v) throw new Error(`export: node ${name} is used before it is defined`);
    return v;
  };
  const folded = new Set<string>();
  const owned: tf.Tensor[] = [];

  for (const node of graph.nodes) {
    if (node.op === 'input') continue;
    const module = layerOf(node);
    const inputs = module.inputs(node);
    const ctx: ExportContext = {
      input: (i = 0) => get(inputs[i]!),
      weight: (suffix) => weight(`${node.name}/${suffix}`),
      layerName: () => uniqueName(node.name),
      consumers: () => consumers.get(node.name) ?? [],
      isFolded: () => folded.has(node.name),
      fold: (name) => void folded.add(name),
      own: (t) => {
        owned.push(t);
        return t;
      },
    };
    const { x, layer, weights: params } = module.export(node, ctx);
    values.set(node.name, x);
    if (layer && params && params.length > 0) assignments.push([layer, params]);
  }
  const model = tfl.model({ inputs: input, outputs: get(graph.output), name: 'kiln' });
  for (const [layer, params] of assignments) layer.setWeights(params);
  tf.dispose(owned);
  return model;
}
