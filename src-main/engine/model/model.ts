import * as tf from '@tensorflow/tfjs-core';
import type { Graph } from '../arch/graph.ts';
import '../ops/register-gradients.ts';
import { layerOf, type GraphNode } from '../layers/registry.ts';
import type { ForwardContext } from '../layers/layer-module.ts';
import { Rng } from '../util/rng.ts';

export interface Param {
  name: string;
  variable: tf.Variable;
  /** Batch-norm scale/shift and biases, which may be left out of weight decay. */
  isBnOrBias: boolean;
}

/**
 * The trainable model: variables named after graph nodes and a forward pass that walks the graph.
 * Weights are drawn in JS from the run's seed, so every backend starts from the same numbers.
 */
let modelCount = 0;

export class Model {
  /** tfjs registers variable names globally, so each model's are prefixed to let several coexist. */
  private readonly prefix = `m${++modelCount}/`;
  readonly params: Param[] = [];
  /** BN running mean and variance, keyed `${node}/moving_mean` and `${node}/moving_variance`. */
  readonly state = new Map<string, tf.Variable>();
  private readonly byName = new Map<string, tf.Variable>();
  private dropoutCalls = 0;
  /**
   * Nodes run fused in training (LayerModule.absorbs): a BN read only by a ReLU applies both as one op (fewer
   * passes, one activation fewer kept), and that ReLU passes its input through.
   */
  private readonly fused = new Set<string>();

  constructor(
    readonly graph: Graph,
    seed: number,
  ) {
    const rng = new Rng(seed, 0x1417);
    const shapes = new Map(graph.layers.map((l) => [l.name, l.outputShape]));
    const inChannels = (name: string) => shapes.get(name)!.at(-1)!;
    const add = (name: string, values: Float32Array, shape: number[], isBnOrBias: boolean) => {
      // tidy drops the initial value: the variable keeps the data, the tensor would otherwise outlive dispose().
      const variable = tf.tidy(() => tf.variable(tf.tensor(values, shape), true, this.prefix + name));
      this.params.push({ name, variable, isBnOrBias });
      this.byName.set(name, variable);
    };
    const readers = new Map<string, GraphNode[]>();
    for (const node of graph.nodes) {
      const inputs = layerOf(node).inputs(node);
      for (const i of inputs) readers.set(i, [...(readers.get(i) ?? []), node]);
    }
    for (const node of graph.nodes) {
      const r = readers.get(node.name);
      const absorbs = layerOf(node).absorbs;
      if (absorbs && node.name !== graph.output && r?.length === 1 && r[0]!.op === absorbs) {
        this.fused.add(node.name);
        this.fused.add(r[0]!.name);
      }
    }
    for (const node of graph.nodes) {
      const module = layerOf(node);
      if (!module.init) continue;
      const inputs = module.inputs(node);
      const init = module.init(node, inputs.length > 0 ? inChannels(inputs[0]!) : 0, rng);
      for (const p of init.params) add(`${node.name}/${p.suffix}`, p.values, p.shape, p.isBnOrBias);
      for (const s of init.state ?? []) {
        const name = `${node.name}/${s.suffix}`;
        this.state.set(
          name,
          tf.tidy(() => tf.variable(s.fill === 0 ? tf.zeros(s.shape) : tf.ones(s.shape), false, this.prefix + name)),
        );
      }
    }
  }

  param(name: string): tf.Variable {
    const v = this.byName.get(name);
    if (!v) throw new Error(`model has no parameter ${name}`);
    return v;
  }

  /**
   * Logits for a batch of normalised NHWC images. In training mode BN uses batch statistics and
   * updates its running statistics as a side effect, as PyTorch and tfjs-layers do.
   */
  forward(input: tf.Tensor4D, training: boolean, dropoutSeed = 0, until = this.graph.output): tf.Tensor2D {
    const values = new Map<string, tf.Tensor>([['input', input]]);
    const get = (name: string) => values.get(name)!;
    // Nodes are in topological order: `until` (a frozen backbone's features) needs none after it.
    for (const node of this.graph.nodes) {
      if (node.op === 'input') continue;
      values.set(node.name, this.apply(node, get, training, dropoutSeed));
      if (node.name === until) break;
    }
    const out = values.get(until);
    if (!out) throw new Error(`model has no node ${until}`);
    return out as tf.Tensor2D;
  }

  private apply(
    node: Exclude<GraphNode, { op: 'input' }>,
    get: (name: string) => tf.Tensor,
    training: boolean,
    dropoutSeed: number,
  ): tf.Tensor {
    const module = layerOf(node);
    const inputs = module.inputs(node);
    const ctx: ForwardContext = {
      input: (i = 0) => get(inputs[i]!),
      param: (suffix) => this.param(`${node.name}/${suffix}`),
      state: (suffix) => {
        const v = this.state.get(`${node.name}/${suffix}`);
        if (!v) throw new Error(`model has no state ${node.name}/${suffix}`);
        return v;
      },
      training,
      fused: this.fused.has(node.name),
      nextSeed: () => dropoutSeed + this.dropoutCalls++,
    };
    return module.forward(node, ctx);
  }

  /** All weights and state by name, for checkpoints and export. */
  namedVariables(): Map<string, tf.Variable> {
    return new Map([...this.params.map((p) => [p.name, p.variable] as const), ...this.state]);
  }

  dispose(): void {
    for (const v of this.namedVariables().values()) v.dispose();
  }
}
