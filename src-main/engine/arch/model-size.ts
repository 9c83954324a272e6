import { UsageError } from '../../common/errors.ts';
import type { Graph } from './graph.ts';

/**
 * Limits on what a spec may ask of a machine. Each field of a spec is capped on its own, but their
 * product is not: a wide-resnet 6/16/20/256 passes field by field and has 10¹³ parameters, which
 * would hang its trainer allocating. Checked when an architecture is saved and when a run starts.
 */
/** 500 M float32 parameters: 2 GB of weights, 6 GB with gradients and momentum. */
export const MAX_PARAMS = 500_000_000;
/** Estimated activation memory for one training step at the run's batch size. */
export const MAX_ACTIVATION_BYTES = 48 * 2 ** 30;

export class ModelTooLargeError extends UsageError {
  override name = 'ModelTooLargeError';
}

/** All parameters, trainable and not (BN running statistics), as summarize() counts them. */
export function paramCount(graph: Graph): number {
  return graph.layers.reduce((n, l) => n + l.params + l.nonTrainable, 0);
}

/** Forward activations kept for the backward pass plus their gradients, float32, for one image. */
export function activationBytesPerImage(graph: Graph): number {
  return graph.layers.reduce((n, l) => n + l.outputShape.reduce((a, b) => a * b, 1), 0) * 4 * 2;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toPrecision(3)} GiB`;
const count = (n: number) => (n >= 1e9 ? n.toExponential(2) : n >= 1e6 ? `${(n / 1e6).toPrecision(3)} M` : String(n));

/** Throw ModelTooLargeError, naming the measure and the limit, if the model is over a limit at `batchSize`. */
export function checkModelSize(graph: Graph, batchSize: number, what = 'architecture'): void {
  const params = paramCount(graph);
  if (params > MAX_PARAMS) {
    throw new ModelTooLargeError(`${what}: ${count(params)} parameters, more than the ${count(MAX_PARAMS)} Kiln allows; use fewer or narrower layers`);
  }
  const perImage = activationBytesPerImage(graph);
  const bytes = perImage * Math.max(1, batchSize);
  if (bytes > MAX_ACTIVATION_BYTES) {
    const fits = Math.floor(MAX_ACTIVATION_BYTES / perImage);
    const advice = fits >= 1 ? `use a batch size of at most ${fits}` : 'use fewer or narrower layers, or smaller images';
    throw new ModelTooLargeError(`${what}: about ${gib(bytes)} of activations at batch size ${batchSize}, more than the ${gib(MAX_ACTIVATION_BYTES)} Kiln allows; ${advice}`);
  }
}
