import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Graph, GraphNode } from '../arch/graph.ts';
import { BN_EPSILON } from './model.ts';

/** Keras's BN momentum is PyTorch's complement (running = m·running + (1 − m)·batch); inference ignores it. */
const KERAS_BN_MOMENTUM = 0.9;

/** Graph node names use '/' as a scope separator; layer names keep them readable with '_'. */
export const layerName = (node: string) => node.replace(/\//g, '_');

/**
 * The graph IR as a tfjs-layers functional model with the given weights (engine names:
 * `<node>/kernel`, `<node>/gamma`, …). A `scale` node after a dense layer is folded into that
 * layer's kernel and bias, so the model is made of standard Keras layers only.
 */
export function buildLayersModel(graph: Graph, weights: Map<string, tf.Tensor>): tfl.LayersModel {
  const consumers = new Map<string, GraphNode[]>();
  for (const node of graph.nodes) {
    const inputs = node.op === 'input' ? [] : node.op === 'add' ? node.inputs : [node.input];
    for (const i of inputs) consumers.set(i, [...(consumers.get(i) ?? []), node]);
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
    let layer: tfl.layers.Layer;
    let params: tf.Tensor[] = [];
    let x: tfl.SymbolicTensor;
    switch (node.op) {
      case 'conv':
        layer = tfl.layers.conv2d({ filters: node.filters, kernelSize: node.kernel, strides: node.stride, padding: 'same', useBias: false, name: uniqueName(node.name) });
        params = [weight(`${node.name}/kernel`)];
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'bn':
        layer = tfl.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, momentum: KERAS_BN_MOMENTUM, name: uniqueName(node.name) });
        params = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((p) => weight(`${node.name}/${p}`));
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'relu':
        layer = tfl.layers.activation({ activation: 'relu', name: uniqueName(node.name) });
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'add':
        layer = tfl.layers.add({ name: uniqueName(node.name) });
        x = layer.apply(node.inputs.map(get)) as tfl.SymbolicTensor;
        break;
      case 'maxpool':
        layer = tfl.layers.maxPooling2d({ poolSize: node.size, strides: node.size, padding: 'valid', name: uniqueName(node.name) });
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'global-avg-pool':
        layer = tfl.layers.globalAveragePooling2d({ name: uniqueName(node.name) });
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'global-max-pool':
        layer = tfl.layers.globalMaxPooling2d({ name: uniqueName(node.name) });
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'dropout':
        layer = tfl.layers.dropout({ rate: node.rate, name: uniqueName(node.name) });
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      case 'dense': {
        const next = consumers.get(node.name) ?? [];
        const scale = next.length === 1 && next[0]!.op === 'scale' ? next[0]!.factor : 1;
        if (scale !== 1) folded.add(next[0]!.name);
        layer = tfl.layers.dense({ units: node.units, useBias: node.useBias, name: uniqueName(node.name) });
        const scaled = (t: tf.Tensor) => {
          if (scale === 1) return t;
          const s = tf.mul(t, scale);
          owned.push(s);
          return s;
        };
        params = [scaled(weight(`${node.name}/kernel`)), ...(node.useBias ? [scaled(weight(`${node.name}/bias`))] : [])];
        x = layer.apply(get(node.input)) as tfl.SymbolicTensor;
        break;
      }
      case 'scale':
        if (!folded.has(node.name)) throw new Error(`export: ${node.name} scales the output of a ${graph.nodes.find((n) => n.name === node.input)?.op} node; only a scale right after a dense layer can be exported`);
        x = get(node.input);
        values.set(node.name, x);
        continue;
    }
    values.set(node.name, x);
    if (params.length > 0) assignments.push([layer, params]);
  }
  const model = tfl.model({ inputs: input, outputs: get(graph.output), name: 'kiln' });
  for (const [layer, params] of assignments) layer.setWeights(params);
  tf.dispose(owned);
  return model;
}
