import type { Graph } from '../arch/graph.ts';
import { activationBytesPerImage, paramCount } from '../arch/model-size.ts';

/**
 * A 32-bit wasm heap ends at 4 GiB. Measured: wrn-22 in passes of 64 images peaked at 2.6 GB resident, about 1.3× the
 * activation estimate, so the estimate gets 2.5 GiB and the rest is left to fragmentation and the step's temporaries.
 */
const WASM_STEP_BUDGET_BYTES = 2.5 * 2 ** 30;

/**
 * The most images one forward/backward pass may take on a backend, or the whole batch where nothing limits it.
 * Only wasm has a hard ceiling that we know of (its heap); weights, gradients, momentum and a spare copy come off it.
 */
export function microBatchLimit(graph: Graph, batch: number, backend: string): number {
  if (backend !== 'wasm') return batch;
  const budget = WASM_STEP_BUDGET_BYTES - paramCount(graph) * 4 * 4;
  return Math.max(1, Math.min(batch, Math.floor(budget / activationBytesPerImage(graph))));
}

/** Near-equal micro-batch sizes, none above `limit`, that add up to `batch`. */
export function splitBatch(batch: number, limit: number): number[] {
  const parts = Math.ceil(batch / Math.max(1, Math.min(limit, batch)));
  const base = Math.floor(batch / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < batch % parts ? 1 : 0));
}

/** What a run record says about a split batch. */
export const MICRO_BATCH_NOTE =
  'the batch did not fit the backend in one pass: gradients are accumulated over micro-batches, so the optimiser sees ' +
  'the whole batch, but batch norm uses each micro-batch\'s statistics and updates its running statistics once per micro-batch';
