import { UsageError } from '../../common/errors.ts';
import { memoryLimitBytes } from '../../common/memory-limit.ts';
import type { Graph } from './graph.ts';

export { memoryLimitBytes };

/**
 * Limits on what a spec may ask of a machine. Each field of a spec is capped on its own, but their
 * product is not: a wide-resnet 6/16/20/256 passes field by field and has 10¹³ parameters, which
 * would hang its trainer allocating. Checked when an architecture is saved and when a run starts.
 */
/** 500 M float32 parameters: 2 GB of weights, 6 GB with gradients and momentum. */
export const MAX_PARAMS = 500_000_000;
/** Estimated activation memory for one training step at the run's batch size. */
export const MAX_ACTIVATION_BYTES = 48 * 2 ** 30;

/**
 * A 32-bit wasm heap ends at 4 GiB. Measured: wrn-22 in passes of 64 images peaked at 2.6 GB resident, about 1.3× the
 * activation estimate, so the estimate gets 2.5 GiB and the rest is left to fragmentation and the step's temporaries.
 */
export const WASM_STEP_BUDGET_BYTES = 2.5 * 2 ** 30;
/** The share of the machine's memory (or the process's cgroup limit) one trainer's estimate may take. */
export const MACHINE_MEMORY_SHARE = 0.75;

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

/** Weights, gradients, momentum and one spare copy (the update's temporaries), float32. */
export const stateBytes = (graph: Graph) => paramCount(graph) * 4 * 4;

/** What training at `batchSize` is estimated to hold: model state, and activations for one pass (a micro-batch on wasm). */
export function trainingMemoryBytes(
  graph: Graph,
  batchSize: number,
  backend?: string,
): { total: number; state: number; activations: number; pass: number } {
  const state = stateBytes(graph);
  const perImage = activationBytesPerImage(graph);
  const batch = Math.max(1, batchSize);
  const pass = backend === 'wasm' ? Math.max(1, Math.min(batch, Math.floor((WASM_STEP_BUDGET_BYTES - state) / perImage))) : batch;
  return { total: state + perImage * pass, state, activations: perImage * pass, pass };
}

/** "about 5.2 GiB (weights, gradients and momentum 4.1 GiB + activations 1.1 GiB for 128 images)". */
export function describeTrainingMemory(m: ReturnType<typeof trainingMemoryBytes>): string {
  return `about ${gib(m.total)} (weights, gradients and momentum ${gib(m.state)} + activations ${gib(m.activations)} for ${m.pass} image${m.pass === 1 ? '' : 's'} a pass)`;
}

/**
 * Throw ModelTooLargeError, naming the measure and the limit, if the model is over a limit at `batchSize`: the fixed
 * caps, the machine's memory (its cgroup limit where lower), and on wasm its 4 GiB heap. Checked where an
 * architecture is saved (batch 1), a run is created or resumed, and an LR range test starts.
 */
export function checkModelSize(graph: Graph, batchSize: number, what = 'architecture', backend?: string): void {
  const params = paramCount(graph);
  if (params > MAX_PARAMS) {
    throw new ModelTooLargeError(
      `${what}: ${count(params)} parameters, more than the ${count(MAX_PARAMS)} Kiln allows; use fewer or narrower layers`,
    );
  }
  const perImage = activationBytesPerImage(graph);
  const bytes = perImage * Math.max(1, batchSize);
  if (bytes > MAX_ACTIVATION_BYTES) {
    const fits = Math.floor(MAX_ACTIVATION_BYTES / perImage);
    const advice = fits >= 1 ? `use a batch size of at most ${fits}` : 'use fewer or narrower layers, or smaller images';
    throw new ModelTooLargeError(
      `${what}: about ${gib(bytes)} of activations at batch size ${batchSize}, more than the ${gib(MAX_ACTIVATION_BYTES)} Kiln allows; ${advice}`,
    );
  }
  const need = trainingMemoryBytes(graph, batchSize, backend);
  if (backend === 'wasm' && need.state + perImage > WASM_STEP_BUDGET_BYTES) {
    throw new ModelTooLargeError(
      `${what}: training needs ${describeTrainingMemory(need)}, more than the wasm backend's 4 GiB heap holds (${gib(WASM_STEP_BUDGET_BYTES)} for the model); use fewer or narrower layers, or another backend`,
    );
  }
  const limit = memoryLimitBytes();
  const allowed = limit * MACHINE_MEMORY_SHARE;
  if (need.total > allowed) {
    const fits = Math.floor((allowed - need.state) / perImage);
    const advice =
      need.state < allowed && fits >= 1 && fits < batchSize
        ? `use a batch size of at most ${fits}, or fewer or narrower layers`
        : 'use fewer or narrower layers';
    throw new ModelTooLargeError(
      `${what}: training needs ${describeTrainingMemory(need)}, more than this machine can give one run (${gib(allowed)}: ${Math.round(MACHINE_MEMORY_SHARE * 100)}% of its ${gib(limit)}); ${advice}`,
    );
  }
}
