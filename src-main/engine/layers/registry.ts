import type { LayerModule } from './layer-module.ts';
import { ADD, type AddNode } from './add.ts';
import { BN, type BnNode } from './bn.ts';
import { CONV, type ConvNode } from './conv.ts';
import { DENSE, type DenseNode } from './dense.ts';
import { DEPTHWISE_CONV, type DepthwiseConvNode } from './depthwise-conv.ts';
import { DROPOUT, type DropoutNode } from './dropout.ts';
import { GLOBAL_AVG_POOL, type GlobalAvgPoolNode } from './global-avg-pool.ts';
import { GLOBAL_MAX_POOL, type GlobalMaxPoolNode } from './global-max-pool.ts';
import { INPUT, type InputNode } from './input.ts';
import { MAX_POOL, type MaxPoolNode } from './max-pool.ts';
import { RELU, type ReluNode } from './relu.ts';
import { RELU6, type Relu6Node } from './relu6.ts';
import { SCALE, type ScaleNode } from './scale.ts';
import { SEPARABLE_CONV, type SeparableConvNode } from './separable-conv.ts';

/**
 * Every node an architecture's graph can hold. Adding a layer type: its module (node type, inference, init,
 * forward, export), a line in this union and one in LAYERS; the graph builder of an architecture may then use it.
 */
export type GraphNode =
  | InputNode
  | ConvNode
  | SeparableConvNode
  | DepthwiseConvNode
  | BnNode
  | ReluNode
  | Relu6Node
  | AddNode
  | MaxPoolNode
  | GlobalAvgPoolNode
  | GlobalMaxPoolNode
  | DropoutNode
  | DenseNode
  | ScaleNode;

export type LayerOp = GraphNode['op'];

export const LAYERS: { readonly [Op in LayerOp]: LayerModule<Extract<GraphNode, { op: Op }>> } = {
  input: INPUT,
  conv: CONV,
  sepconv: SEPARABLE_CONV,
  dwconv: DEPTHWISE_CONV,
  bn: BN,
  relu: RELU,
  relu6: RELU6,
  add: ADD,
  maxpool: MAX_POOL,
  'global-avg-pool': GLOBAL_AVG_POOL,
  'global-max-pool': GLOBAL_MAX_POOL,
  dropout: DROPOUT,
  dense: DENSE,
  scale: SCALE,
};

/** The module of a node, typed for it. */
export function layerOf<N extends GraphNode>(node: N): LayerModule<N> {
  return LAYERS[node.op] as unknown as LayerModule<N>;
}
