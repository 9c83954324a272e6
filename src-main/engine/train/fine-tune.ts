import type { Model } from '../model/model.ts';
import { assignVariables, readCheckpointTensors, resolveCheckpoint } from './checkpoint.ts';

export { headNode, headParamNames } from './head.ts';

/** The checkpoint slot, under a fine-tuned run's `checkpoints/`, holding the weights it started from. */
export const INIT_SLOT = 'init';

/**
 * Copy weights and BN statistics from a checkpoint into a freshly initialised model, except the
 * names in `skip` (a re-initialised head), which keep their seeded initial values. Optimiser
 * state is not copied: a fine-tune starts its own.
 */
export async function applyInitWeights(target: string, model: Model, skip: ReadonlySet<string>): Promise<void> {
  if (!resolveCheckpoint(target)) throw new Error(`fine-tune: no starting weights in ${target}`);
  const { values } = await readCheckpointTensors(target);
  assignVariables(
    [...model.namedVariables()].filter(([name]) => !skip.has(name)),
    values,
  );
}
