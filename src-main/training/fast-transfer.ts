import * as tf from '@tensorflow/tfjs-core';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { SYNTHETIC_ID } from '../engine/data/synthetic.ts';
import type { Model } from '../engine/model/model.ts';
import { fitHead, type FeatureSplit } from '../engine/train/head-fit.ts';
import { saveCheckpoint } from '../engine/train/checkpoint.ts';
import { headNode } from '../engine/train/fine-tune.ts';
import type { FitOutcome } from '../engine/train/learner.ts';
import { START_POSITION } from '../engine/train/position.ts';
import { Sgd } from '../engine/train/sgd.ts';
import type { RunStore } from '../runs/run-store.ts';
import type { ResolvedRun } from '../../src-shared/run-config.ts';
import type { MetricLine, RunRecord } from '../../src-shared/run-types.ts';
import type { TrainerMessage, TrainerProgress } from '../../src-shared/trainer-protocol.ts';
import type { EpochMetrics } from '../../src-shared/train-types.ts';
import { frozenFeatures, type FeatureProgress } from './feature-cache.ts';

const PROGRESS_INTERVAL_MS = 250;
/** Images per forward pass of the frozen backbone (inference only: no activations kept for a backward pass). */
const FEATURE_BATCH = 16;

export interface FastTransferOptions {
  store: RunStore;
  home: string;
  runId: string;
  record: RunRecord;
  resolved: ResolvedRun;
  /** The run's data, with the backbone's normalisation. */
  dataset: LoadedDataset;
  /** The backbone with its pretrained weights and a seeded head. */
  model: Model;
  latest: string;
  best: string;
  emit: (m: TrainerMessage) => void;
  wall: () => number;
  /** Aborted with reason 'pause' or 'stop' by the host; checked between feature batches. */
  signal: AbortSignal;
}

/**
 * The fast way to use a pretrained backbone: frozen, its features computed once per image (the cache keeps
 * them, keyed by dataset, weights, size and flips), and a linear head trained on them in seconds. The run then
 * holds an ordinary checkpoint (backbone + head), so evaluation, export and prediction read it as any run's.
 * A pause during the feature pass keeps the features done so far; the head's training is too short to pause.
 */
export async function runFastTransfer(o: FastTransferOptions): Promise<{
  outcome: FitOutcome;
  record: RunRecord;
  lastEpoch?: EpochMetrics;
  predictions: (count: number) => Promise<{ scores: Float32Array; probs: Float32Array; ttaProbs: Float32Array }>;
}> {
  const { store, runId, resolved, dataset, model, emit } = o;
  const { config } = resolved;
  const backbone = config.backbone!;
  const head = model.graph.nodes.find((n) => n.name === headNode(model.graph));
  if (!head || head.op !== 'dense') throw new Error(`fast transfer: ${backbone.name} has no dense head`);
  const base = {
    runId,
    epoch: 0,
    epochs: resolved.config.opt.epochs,
    step: 0,
    totalSteps: resolved.totalSteps,
    stepInEpoch: 0,
    stepsPerEpoch: resolved.stepsPerEpoch,
    loss: NaN,
    lr: 0,
    momentum: 0,
    imagesPerSec: 0,
  };
  let lastSent = 0;
  const send = (p: TrainerProgress, force = false) => {
    const now = performance.now();
    if (!force && now - lastSent < PROGRESS_INTERVAL_MS) return;
    lastSent = now;
    emit({ type: 'progress', progress: p });
  };
  const onFeatures = (f: FeatureProgress) =>
    send({ ...base, etaSeconds: f.etaSeconds, imagesPerSec: f.imagesPerSec, features: f }, f.done === 0 || f.done === f.total);

  const cache =
    dataset.id === SYNTHETIC_ID
      ? null
      : await (async () => {
          const ds = new DatasetStore(o.home);
          return { dir: ds.dir(dataset.id), storedCounts: (await ds.get(dataset.id)).counts };
        })();
  let features;
  try {
    features = await frozenFeatures(
      dataset,
      { train: resolved.trainCount, val: resolved.valCount },
      {
        datasetId: dataset.id,
        manifestHash: dataset.manifestHash,
        backbone: backbone.name,
        weightsSha256: backbone.sha256,
        imageSize: dataset.imageSize,
        augment: config.aug.flip,
      },
      cache,
      { model, node: head.input, mean: backbone.mean, std: backbone.std, batch: FEATURE_BATCH, onProgress: onFeatures, signal: o.signal },
    );
  } catch (err) {
    if (!o.signal.aborted) throw err;
    const outcome: FitOutcome = o.signal.reason === 'pause' ? 'paused' : 'stopped';
    return { outcome, record: o.record, predictions: () => Promise.reject(new Error('not trained')) };
  }

  const kernelVar = model.param(`${head.name}/kernel`);
  const biasVar = head.useBias ? model.param(`${head.name}/bias`) : null;
  if (!biasVar) throw new Error(`fast transfer: ${backbone.name}'s head has no bias to fold the feature scaling into`);
  const classes = dataset.classes.length;
  const stride = Math.max(1, Math.ceil(resolved.totalSteps / 2000));
  const trainStart = performance.now();
  const result = await fitHead(
    features.train,
    features.val,
    {
      classes,
      epochs: resolved.config.opt.epochs,
      batchSize: resolved.config.opt.batchSize,
      schedule: { ...config.opt, lrMax: resolved.config.opt.lrMax },
      nesterov: config.opt.nesterov,
      weightDecay: config.opt.weightDecay,
      labelSmoothing: config.opt.labelSmoothing,
      seed: config.seed,
      flip: config.aug.flip,
      tta: config.aug.tta,
      kernel: (await kernelVar.data()) as Float32Array,
      bias: (await biasVar.data()) as Float32Array,
    },
    {
      onStep: (s) => {
        if (s.step % stride === 0)
          void store.appendMetrics(runId, [
            {
              type: 'step',
              step: s.step,
              epoch: s.epoch + 1,
              loss: Number.isFinite(s.loss) ? s.loss : null,
              lr: s.lr,
              momentum: s.momentum,
              t: o.wall(),
            },
          ]);
        const secs = (performance.now() - trainStart) / 1000;
        const perStep = secs / s.step;
        send(
          {
            ...base,
            epoch: s.epoch + 1,
            step: s.step,
            stepInEpoch: s.step - s.epoch * resolved.stepsPerEpoch,
            loss: s.loss,
            lr: s.lr,
            momentum: s.momentum,
            imagesPerSec: (s.step * resolved.config.opt.batchSize) / Math.max(secs, 1e-6),
            etaSeconds: perStep * (resolved.totalSteps - s.step),
          },
          s.step === resolved.totalSteps,
        );
      },
      onEpoch: async (m) => {
        const line = {
          type: 'epoch',
          ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v])),
          t: o.wall(),
        } as MetricLine;
        await store.appendMetrics(runId, [line]);
        emit({ type: 'epoch', runId, metrics: m });
      },
    },
  );
  await store.flushMetrics(runId);

  // Both slots hold the whole model: the pretrained backbone and the head (best epoch's, last epoch's).
  const sgd = new Sgd(model.params, { nesterov: false, weightDecay: 0, wdExcludeBnBias: false });
  const position = { ...START_POSITION, epoch: resolved.config.opt.epochs, step: resolved.totalSteps, trainSeconds: result.seconds };
  const setHead = (h: { kernel: Float32Array; bias: Float32Array }) =>
    tf.tidy(() => {
      kernelVar.assign(tf.tensor(h.kernel, kernelVar.shape));
      biasVar.assign(tf.tensor(h.bias, biasVar.shape));
    });
  const bestMetrics = result.epochs[result.best.epoch - 1]!;
  const last = result.epochs.at(-1)!;
  try {
    setHead(result.best);
    await saveCheckpoint(
      o.best,
      model,
      sgd,
      { ...position, epoch: result.best.epoch, step: result.best.epoch * resolved.stepsPerEpoch },
      { epoch: result.best.epoch, valAcc: bestMetrics.valAcc },
    );
    setHead(result.last);
    await saveCheckpoint(o.latest, model, sgd, position, { epoch: resolved.config.opt.epochs });
  } finally {
    sgd.dispose();
  }
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  const record = await store.update(runId, {
    status: 'finished',
    progress: { epoch: resolved.config.opt.epochs, step: resolved.totalSteps, totalSteps: resolved.totalSteps },
    best: { valAcc: finite(bestMetrics.valAcc) ?? 0, ttaAcc: bestMetrics.ttaAcc ?? null, epoch: result.best.epoch },
    final: { valAcc: finite(last.valAcc) ?? 0, ttaAcc: last.ttaAcc ?? null, valLoss: finite(last.valLoss) },
    wallSeconds: o.wall(),
    endedAt: new Date().toISOString(),
  });
  emit({ type: 'checkpoint', runId, step: resolved.totalSteps });
  return {
    outcome: 'finished',
    record,
    lastEpoch: last,
    predictions: (count) => headPredictions(features.val, result.best, classes, count),
  };
}

/** The best head's logits, softmax and TTA probabilities (mean over the image and its flip) on cached validation features. */
async function headPredictions(val: FeatureSplit, h: { kernel: Float32Array; bias: Float32Array }, classes: number, count: number) {
  const n = Math.min(count, val.count);
  const out = tf.tidy(() => {
    const x = tf.tensor3d(val.data.subarray(0, n * val.views * val.dim), [n, val.views, val.dim]);
    const logits = tf.add(
      tf.matMul(tf.reshape(x, [n * val.views, val.dim]), tf.tensor2d(h.kernel, [val.dim, classes])),
      tf.tensor1d(h.bias),
    );
    const byView = tf.reshape(logits, [n, val.views, classes]);
    const plain = tf.reshape(tf.slice(byView, [0, 0, 0], [-1, 1, -1]), [n, classes]);
    return [plain, tf.softmax(plain), tf.mean(tf.softmax(byView), 1)];
  });
  const [scores, probs, ttaProbs] = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
  tf.dispose(out);
  return { scores: scores!, probs: probs!, ttaProbs: ttaProbs! };
}
