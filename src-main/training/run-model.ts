import path from 'node:path';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { UsageError } from '../common/errors.ts';
import type { ArchSpec } from '../../src-shared/arch-spec.ts';
import { buildGraph, type Graph } from '../engine/arch/graph.ts';
import { loadDataset } from './load-dataset.ts';
import { withRunNormalisation } from './backbone-init.ts';
import { Model } from '../engine/model/model.ts';
import { loadCheckpoint, resolveCheckpoint, type CheckpointMeta } from '../engine/train/checkpoint.ts';
import { Sgd } from '../engine/train/sgd.ts';
import { RunStore } from '../runs/run-store.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';

export type CheckpointChoice = 'best' | 'latest';
export const CHECKPOINT_CHOICES: readonly CheckpointChoice[] = ['best', 'latest'];

export interface RunModel {
  record: RunRecord;
  dataset: LoadedDataset;
  spec: ArchSpec;
  graph: Graph;
  model: Model;
  checkpoint: CheckpointChoice;
  meta: CheckpointMeta;
  /** Epochs finished when the checkpoint was written. */
  epoch: number;
  dispose(): void;
}

export function parseCheckpointChoice(value: string | undefined, flag = '--checkpoint'): CheckpointChoice {
  if (value === undefined) return 'best';
  if (!(CHECKPOINT_CHOICES as readonly string[]).includes(value)) throw new UsageError(`${flag}: expected best or latest, got "${value}"`);
  return value as CheckpointChoice;
}

/**
 * A run's model with the weights of one of its checkpoints, on tfjs's current backend, plus the
 * dataset it trained on (checked against the run's manifest hash: evaluating on other data would lie).
 */
export async function loadRunModel(
  home: string,
  runId: string,
  opts: { checkpoint: CheckpointChoice; dataset?: LoadedDataset },
): Promise<RunModel> {
  const store = new RunStore(home);
  const record = await store.get(runId);
  const dir = path.join(store.checkpointDir(runId), opts.checkpoint);
  if (!resolveCheckpoint(dir)) {
    const hint = opts.checkpoint === 'best' ? ' (no epoch has finished yet; --checkpoint latest uses the last pause)' : '';
    throw new UsageError(`run ${runId} has no ${opts.checkpoint} checkpoint${hint}`);
  }
  // A backbone run reads its images with the backbone's normalisation (as it trained).
  const dataset =
    opts.dataset ??
    withRunNormalisation(await loadDataset(home, record.resolved.config.data.dataset, record.dataset.excluded), record.resolved.config);
  if (dataset.manifestHash !== record.dataset.manifestHash) {
    throw new Error(`dataset ${dataset.id} changed since run ${runId} was trained (manifest hash differs)`);
  }
  // The spec the run trained, as stored: never today's preset of the same name.
  const spec = record.resolved.config.net.arch;
  const graph = buildGraph(spec, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
  const model = new Model(graph, record.resolved.config.seed);
  // loadCheckpoint restores optimiser state too; a throwaway Sgd takes it.
  const sgd = new Sgd(model.params, { nesterov: false, weightDecay: 0, wdExcludeBnBias: false });
  let meta: CheckpointMeta;
  try {
    meta = await loadCheckpoint(dir, model, sgd);
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    sgd.dispose();
  }
  return {
    record,
    dataset,
    spec,
    graph,
    model,
    checkpoint: opts.checkpoint,
    meta,
    epoch: checkpointEpoch(meta),
    dispose: () => model.dispose(),
  };
}

/** Epochs finished when a checkpoint was written: the trainer's `extra.epoch` when it stored one, else its position. */
export function checkpointEpoch(meta: CheckpointMeta): number {
  const extraEpoch = meta.extra?.epoch;
  return typeof extraEpoch === 'number' ? extraEpoch : meta.position.epoch;
}
