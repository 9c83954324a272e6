import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Shape } from '../../../src-shared/arch-types.ts';
import type { Rng } from '../util/rng.ts';
import type { OnnxEmitContext } from './onnx-emit.ts';

/** What a node of a graph holds in common; each layer module adds its own fields. */
export interface NodeBase {
  op: string;
  name: string;
}

export interface LayerShape {
  outputShape: Shape;
  /** Trainable parameters. */
  params?: number;
  /** Non-trainable (BN running mean and variance). */
  nonTrainable?: number;
  /** Multiply-adds count twice (one multiply, one add), per image. */
  flops?: number;
}

/** A variable a layer owns, named `<node>/<suffix>` in checkpoints and exports. */
export interface ParamInit {
  suffix: string;
  values: Float32Array;
  shape: number[];
  /** Batch-norm scale/shift and biases, which may be left out of weight decay. */
  isBnOrBias: boolean;
}

export interface StateInit {
  suffix: string;
  fill: 0 | 1;
  shape: number[];
}

export interface ForwardContext {
  /** The value of the node's i-th input. */
  input(i?: number): tf.Tensor;
  param(suffix: string): tf.Variable;
  state(suffix: string): tf.Variable;
  training: boolean;
  /** Set when the model runs this node fused with its neighbour (LayerModule.absorbs: a BN and the ReLU that alone reads it). */
  fused: boolean;
  /** A fresh seed for this call's random masks. */
  nextSeed(): number;
}

export interface ExportContext {
  input(i?: number): tfl.SymbolicTensor;
  /** A checkpoint tensor of this node, `<node>/<suffix>`. */
  weight(suffix: string): tf.Tensor;
  /** The layer name for this node (unique, readable). */
  layerName(): string;
  /** Nodes that read this node's output. */
  consumers(): NodeBase[];
  /** The node right before this one writes a value this node only passes on (a folded scale). */
  isFolded(): boolean;
  fold(node: string): void;
  /** A tensor made for the export, disposed once the weights are set. */
  own<T extends tf.Tensor>(t: T): T;
}

export interface Exported {
  x: tfl.SymbolicTensor;
  layer?: tfl.layers.Layer;
  weights?: tf.Tensor[];
}

/**
 * Everything about one layer type, kept together as tfjs-layers keeps build/call/computeOutputShape/getConfig:
 * shape and parameter inference, initial weights, the forward pass, and the tfjs-layers export. A backend that
 * lacks a gradient the forward pass needs gets it from `kernels` (registered when the layer is first used).
 * `onnx` writes the node into an ONNX graph (NCHW inside) and returns the ONNX value of its output.
 */
export interface LayerModule<N extends NodeBase> {
  op: N['op'];
  /** The node's inputs by name. */
  inputs(node: N): string[];
  infer(node: N, inShape: (name: string) => Shape, inputShape: Shape): LayerShape;
  init?(node: N, inChannels: number, rng: Rng): { params: ParamInit[]; state?: StateInit[] };
  forward(node: N, ctx: ForwardContext): tf.Tensor;
  /**
   * The op of a node that, when it alone reads this one, this node's training forward can apply too (BN: the ReLU
   * after it). The model then runs both with `ctx.fused` set: this node applies the pair, the reader passes through.
   */
  absorbs?: string;
  export(node: N, ctx: ExportContext): Exported;
  /** Absent only for the input node, which the ONNX writer handles itself. */
  onnx?(node: N, ctx: OnnxEmitContext): string;
}

export const one = (node: { input: string }) => [node.input];
export const size = (s: Shape) => s.reduce((a, v) => a * v, 1);
