import * as tf from '@tensorflow/tfjs-core';
import type { Param } from '../model/model.ts';

export interface SgdOptions {
  nesterov: boolean;
  weightDecay: number;
  wdExcludeBnBias: boolean;
  /** Per-parameter factor on the learning rate (a pretrained body learns slower than a new head); absent = 1. */
  lrScale?: ReadonlyMap<string, number>;
}

/**
 * SGD with momentum in PyTorch's form (g += wd·w; v = μv + g; d = nesterov ? g + μv : v; w −= lr·d),
 * so the learning rates and weight decays of published PyTorch recipes carry over unchanged.
 */
export class Sgd {
  readonly velocity = new Map<string, tf.Variable>();

  /** Per-parameter learning-rate factors, if any (the GPU trainer page's optimiser gets the same). */
  get lrScale(): ReadonlyMap<string, number> | undefined {
    return this.opts.lrScale;
  }

  constructor(
    private readonly params: Param[],
    private readonly opts: SgdOptions,
  ) {
    // In a tidy, so the zeros each variable starts from are released and dispose() frees everything.
    for (const p of params)
      this.velocity.set(
        p.name,
        tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false, `${p.variable.name}/velocity`)),
      );
  }

  step(grads: tf.NamedTensorMap, lr: number, momentum: number): void {
    tf.tidy(() => {
      const mu = tf.scalar(momentum);
      const negLr = tf.scalar(-lr);
      const scaled = new Map<number, tf.Scalar>();
      for (const p of this.params) {
        const grad = grads[p.variable.name];
        if (!grad) continue;
        const wd = this.opts.wdExcludeBnBias && p.isBnOrBias ? 0 : this.opts.weightDecay;
        const g = wd > 0 ? tf.add(grad, tf.mul(p.variable, wd)) : grad;
        const v = this.velocity.get(p.name)!;
        const vNext = tf.add(tf.mul(v, mu), g);
        v.assign(vNext);
        const d = this.opts.nesterov ? tf.add(g, tf.mul(vNext, mu)) : vNext;
        const k = this.opts.lrScale?.get(p.name) ?? 1;
        if (k !== 1 && !scaled.has(k)) scaled.set(k, tf.scalar(-lr * k));
        p.variable.assign(tf.add(p.variable, tf.mul(d, k === 1 ? negLr : scaled.get(k)!)));
      }
    });
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
  }
}
