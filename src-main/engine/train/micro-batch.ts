import type { Graph } from '../arch/graph.ts';
import { trainingMemoryBytes } from '../arch/model-size.ts';

/**
 * The most images one forward/backward pass may take on a backend, or the whole batch where nothing limits it.
 * Only wasm has a hard ceiling that we know of (its heap); weights, gradients, momentum and a spare copy come off it.
 */
export function microBatchLimit(graph: Graph, batch: number, backend: string): number {
  return backend === 'wasm' ? trainingMemoryBytes(graph, batch, backend).pass : batch;
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
  "the whole batch, but batch norm uses each micro-batch's statistics and updates its running statistics once per micro-batch";
