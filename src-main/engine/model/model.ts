import * as tf from '@tensorflow/tfjs-core';
import type { Graph, GraphNode } from '../arch/graph.ts';
import '../register-gradients.ts';
import { batchNormTrain } from '../ops/batch-norm.ts';
import { Rng } from '../util/rng.ts';

export const BN_EPSILON = 1e-5;
/** PyTorch's convention: running = (1 − m)·running + m·batch. */
export const BN_MOMENTUM = 0.1;

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
  /** BN nodes read only by a ReLU: in training the pair runs as one op (fewer passes, one activation fewer kept). */
  private readonly bnWithRelu = new Set<string>();
  /** Those ReLUs, which then pass their input through. */
  private readonly fusedRelu = new Set<string>();

  constructor(
    readonly graph: Graph,
    seed: number,
  ) {
    const rng = new Rng(seed, 0x1417);
    const shapes = new Map(graph.layers.map((l) => [l.name, l.outputShape]));
    const inChannels = (name: string) => shapes.get(name)!.at(-1)!;
    const add = (name: string, values: Float32Array, shape: number[], isBnOrBias: boolean) => {
      const variable = tf.variable(tf.tensor(values, shape), true, this.prefix + name);
      this.params.push({ name, variable, isBnOrBias });
      this.byName.set(name, variable);
    };
    const draw = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
    const readers = new Map<string, GraphNode[]>();
    for (const node of graph.nodes) {
      const inputs = 'inputs' in node ? node.inputs : 'input' in node ? [node.input] : [];
      for (const i of inputs) readers.set(i, [...(readers.get(i) ?? []), node]);
    }
    for (const node of graph.nodes) {
      const r = readers.get(node.name);
      if (node.op === 'bn' && node.name !== graph.output && r?.length === 1 && r[0]!.op === 'relu') {
        this.bnWithRelu.add(node.name);
        this.fusedRelu.add(r[0]!.name);
      }
    }
    for (const node of graph.nodes) {
      if (node.op === 'conv') {
        const c = inChannels(node.input);
        const fanIn = node.kernel * node.kernel * c;
        const std = Math.sqrt(2 / fanIn);
        add(`${node.name}/kernel`, draw(fanIn * node.filters, () => rng.normal() * std), [node.kernel, node.kernel, c, node.filters], false);
      } else if (node.op === 'bn') {
        const c = inChannels(node.input);
        add(`${node.name}/gamma`, new Float32Array(c).fill(1), [c], true);
        add(`${node.name}/beta`, new Float32Array(c), [c], true);
        this.state.set(`${node.name}/moving_mean`, tf.variable(tf.zeros([c]), false, `${this.prefix}${node.name}/moving_mean`));
        this.state.set(`${node.name}/moving_variance`, tf.variable(tf.ones([c]), false, `${this.prefix}${node.name}/moving_variance`));
      } else if (node.op === 'dense') {
        const c = inChannels(node.input);
        const bound = 1 / Math.sqrt(c);
        add(`${node.name}/kernel`, draw(c * node.units, () => (2 * rng.float() - 1) * bound), [c, node.units], false);
        if (node.useBias) add(`${node.name}/bias`, draw(node.units, () => (2 * rng.float() - 1) * bound), [node.units], true);
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
  forward(input: tf.Tensor4D, training: boolean, dropoutSeed = 0): tf.Tensor2D {
    const values = new Map<string, tf.Tensor>([['input', input]]);
    const get = (name: string) => values.get(name)!;
    for (const node of this.graph.nodes) {
      if (node.op === 'input') continue;
      values.set(node.name, this.apply(node, get, training, dropoutSeed));
    }
    return get(this.graph.output) as tf.Tensor2D;
  }

  private apply(node: Exclude<GraphNode, { op: 'input' }>, get: (name: string) => tf.Tensor, training: boolean, dropoutSeed: number): tf.Tensor {
    switch (node.op) {
      case 'conv':
        return tf.conv2d(get(node.input) as tf.Tensor4D, this.param(`${node.name}/kernel`) as tf.Tensor4D, node.stride, 'same');
      case 'bn':
        return this.batchNorm(node.name, get(node.input) as tf.Tensor4D, training, training && this.bnWithRelu.has(node.name));
      case 'relu':
        return training && this.fusedRelu.has(node.name) ? get(node.input) : tf.relu(get(node.input));
      case 'add':
        return tf.add(get(node.inputs[0]), get(node.inputs[1]));
      case 'maxpool':
        return tf.maxPool(get(node.input) as tf.Tensor4D, node.size, node.size, 'valid');
      case 'global-avg-pool':
        return tf.mean(get(node.input), [1, 2]);
      case 'global-max-pool': {
        // A maxPool over the whole map, not tf.max: max's gradient is a broadcast Equal mask (slow on wasm, and it
        // hands a tie's gradient to every tied position), maxPool's goes to the first maximum, as PyTorch's MaxPool2d.
        const x = get(node.input) as tf.Tensor4D;
        const [n, h, w, c] = x.shape;
        return tf.reshape(tf.maxPool(x, [h, w], [h, w], 'valid'), [n, c]);
      }
      case 'dropout':
        return training && node.rate > 0 ? tf.dropout(get(node.input), node.rate, undefined, dropoutSeed + this.dropoutCalls++) : get(node.input);
      case 'dense': {
        const y = tf.matMul(get(node.input) as tf.Tensor2D, this.param(`${node.name}/kernel`) as tf.Tensor2D);
        return node.useBias ? tf.add(y, this.param(`${node.name}/bias`)) : y;
      }
      case 'scale':
        return tf.mul(get(node.input), node.factor);
    }
  }

  private batchNorm(name: string, x: tf.Tensor4D, training: boolean, relu = false): tf.Tensor4D {
    const gamma = this.param(`${name}/gamma`) as tf.Tensor1D;
    const beta = this.param(`${name}/beta`) as tf.Tensor1D;
    const movingMean = this.state.get(`${name}/moving_mean`)!;
    const movingVar = this.state.get(`${name}/moving_variance`)!;
    if (!training) return tf.batchNorm(x, movingMean as tf.Tensor1D, movingVar as tf.Tensor1D, beta, gamma, BN_EPSILON);
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, BN_EPSILON, { relu });
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    tf.tidy(() => {
      // The running variance is the unbiased estimate, as in PyTorch.
      const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
      movingMean.assign(tf.add(tf.mul(movingMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      movingVar.assign(tf.add(tf.mul(movingVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    });
    return y;
  }

  /** All weights and state by name, for checkpoints and export. */
  namedVariables(): Map<string, tf.Variable> {
    return new Map([...this.params.map((p) => [p.name, p.variable] as const), ...this.state]);
  }

  dispose(): void {
    for (const v of this.namedVariables().values()) v.dispose();
  }
}
