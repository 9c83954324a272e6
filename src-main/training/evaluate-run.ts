import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Evaluation } from '../../src-shared/contract.ts';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import type { BackendChoice } from '../../src-shared/backends.ts';
import { predictSplit, type SplitPredictions } from '../engine/train/predict-split.ts';
import { datasetSource } from './dataset-source.ts';
import type { Model } from '../engine/model/model.ts';
import { summarizePredictions } from './evaluation-summary.ts';
import { loadRunModel, type CheckpointChoice } from './run-model.ts';
import { RunStore } from '../runs/run-store.ts';
import { readTextOrNull } from '../common/read-text.ts';

/** The contract's Evaluation, plus what was evaluated. */
export interface RunEvaluation extends Evaluation {
  runId: string;
  checkpoint: CheckpointChoice;
  /** Epochs finished when the evaluated checkpoint was written. */
  epoch: number;
  step: number;
  /** Validation images evaluated (the run's limitVal applies). */
  count: number;
  backend: string;
  evaluatedAt: string;
}

export interface EvaluateOptions {
  checkpoint?: CheckpointChoice;
  /** Load this backend first; without it, tfjs's current backend is used (the trainer's). */
  backend?: BackendChoice;
  /** The run's dataset when the caller has it loaded already. */
  dataset?: LoadedDataset;
  /**
   * The checkpoint's predictions of the first `count` validation images, made elsewhere than on this process's
   * backend: a fast transfer run scores its head on cached features, a GPU run's page runs `model` (the
   * checkpoint's weights) on its WebGPU. `backend` names where, for the evaluation's record.
   */
  predictions?: (count: number, model: Model) => Promise<SplitPredictions & { backend?: string }>;
}

export const EVALUATION_FILE = 'evaluation.json';

export function evaluationFile(home: string, runId: string): string {
  return path.join(new RunStore(home).evalDir(runId), EVALUATION_FILE);
}

/**
 * Evaluate a run's checkpoint on its validation split: confusion matrices [true][predicted], per-class
 * accuracy and the most confident mistakes, with and without TTA (image + horizontal flip, as the
 * trainer's ttaAcc). Saved atomically as `<run>/eval/evaluation.json`.
 */
export async function evaluateRun(home: string, runId: string, opts: EvaluateOptions = {}): Promise<RunEvaluation> {
  if (opts.backend) await loadBackend(opts.backend);
  const checkpoint = opts.checkpoint ?? 'best';
  const loaded = await loadRunModel(home, runId, { checkpoint, ...(opts.dataset ? { dataset: opts.dataset } : {}) });
  try {
    const { record, dataset, model } = loaded;
    const count = Math.min(record.dataset.val, dataset.val.count);
    const k = dataset.classes.length;
    const table: SplitPredictions & { backend?: string } = opts.predictions
      ? await opts.predictions(count, model)
      : await predictSplit(model, dataset, count);
    const summary = summarizePredictions({
      classes: dataset.classes,
      labels: dataset.val.labels.subarray(0, count),
      scores: table.scores,
      probs: table.probs,
      ttaProbs: table.ttaProbs,
      ...(dataset.val.indices ? { indices: dataset.val.indices.subarray(0, count) } : {}),
    });
    const origin = await sourceFiles(home, record.dataset.id);
    if (origin) {
      summary.sourceFolder = origin.folder;
      for (const m of summary.mistakes) m.source = origin.val[m.index];
      for (const c of summary.cells ?? []) for (const img of c.images) img.source = origin.val[img.index];
    }
    const result: RunEvaluation = {
      ...summary,
      runId,
      checkpoint,
      epoch: loaded.epoch,
      step: loaded.meta.position.step,
      count,
      backend: table.backend ?? tf.getBackend(),
      evaluatedAt: new Date().toISOString(),
    };
    if (result.classes.length !== k) throw new Error('evaluation: class count mismatch');
    const file = evaluationFile(home, runId);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await writeJsonAtomic(file, result);
    // The same figures in run.json, so the runs table, the run page and Evaluate show one accuracy and one TTA.
    await new RunStore(home).update(runId, {
      evaluation: { checkpoint, epoch: loaded.epoch, valAcc: result.accuracy, ttaAcc: result.ttaAccuracy },
    });
    return result;
  } finally {
    loaded.dispose();
  }
}

/** The imported folder and the validation images' files in it, for datasets imported from a folder. */
async function sourceFiles(home: string, datasetId: string): Promise<{ folder: string; val: string[] } | null> {
  const source = datasetSource(home, datasetId);
  const [{ origin }, sources] = await Promise.all([source.describe(), source.sources()]);
  if (!sources || origin?.kind !== 'folder') return null;
  return { folder: origin.path, val: sources.val };
}

/** The saved evaluation of a run, or null when it has none. */
export async function readEvaluation(home: string, runId: string): Promise<RunEvaluation | null> {
  const file = evaluationFile(home, runId);
  const text = await readTextOrNull(file);
  if (text === null) return null;
  try {
    return JSON.parse(text) as RunEvaluation;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}
