import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model/model.ts';
import type { Sgd } from './sgd.ts';

/**
 * Everything a run's weights and optimiser hold, by the names checkpoints use: the model's variables (weights,
 * BN statistics) and each parameter's momentum as `<name>/velocity`.
 */
export function trainingState(model: Model, sgd: Sgd): Map<string, tf.Variable> {
  const all = new Map(model.namedVariables());
  for (const p of model.params) all.set(`${p.name}/velocity`, sgd.velocity.get(p.name)!);
  return all;
}

/** The state's values, read from the device: what crosses a process boundary (the GPU trainer page's messages). */
export async function readTrainingState(model: Model, sgd: Sgd): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [name, variable] of trainingState(model, sgd)) out[name] = (await variable.data()) as Float32Array;
  return out;
}

/** Give each variable its value from `values`, by name, checked against its shape. */
export function assignVariables(variables: Iterable<[string, tf.Variable]>, values: (name: string, shape: number[]) => Float32Array): void {
  for (const [name, variable] of variables) {
    const v = values(name, variable.shape);
    tf.tidy(() => variable.assign(tf.tensor(v, variable.shape)));
  }
}

/** Assigns `values` (another process's, by name) to `variables`; `what` names them in the error when one is missing or misshapen. */
export function writeNamedValues(variables: Iterable<[string, tf.Variable]>, values: Record<string, Float32Array>, what: string): void {
  assignVariables(variables, (name, shape) => {
    const v = values[name];
    const size = shape.reduce((a, d) => a * d, 1);
    if (!v || v.length !== size)
      throw new Error(`${what}: ${name} has ${v ? v.length : 'no'} values, the model expects ${size} ([${shape}])`);
    return v;
  });
}

/** Assigns state read by readTrainingState (another process's) to this model and optimiser. */
export function writeTrainingState(model: Model, sgd: Sgd, state: Record<string, Float32Array>): void {
  writeNamedValues(trainingState(model, sgd), state, 'training state');
}
