import * as tf from '@tensorflow/tfjs-core';
import type { ImageSplit, LoadedDataset } from '../../common/dataset-types.ts';
import type { ResolvedConfig, ResolvedRun } from '../../../src-shared/run-config.ts';
import { assembleEvalBatch, assembleTrainBatch, normalisationTable, planEpoch } from '../data/batches.ts';
import type { Model } from '../model/model.ts';
import { trainStep } from './train-step.ts';
import { scheduleAt, type ScheduleValue } from './schedule.ts';
import type { Sgd } from './sgd.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  momentum: number;
}

/** Where a run stands; all a resumed run needs besides weights and optimiser state. */
export interface Position {
  /** 0-based epoch in progress. */
  epoch: number;
  /** Steps already taken in that epoch. */
  stepInEpoch: number;
  /** Steps taken in all. */
  step: number;
  /** The unfinished epoch's running training metrics. */
  lossSum: number;
  correct: number;
  seen: number;
  trainSeconds: number;
}

export const START_POSITION: Position = { epoch: 0, stepInEpoch: 0, step: 0, lossSum: 0, correct: 0, seen: 0, trainSeconds: 0 };

export type FitOutcome = 'finished' | 'paused' | 'stopped';

/** Progress, checkpointing, early stop and logging are callbacks, as in fastai's Learner. */
export interface Callback {
  onFitStart?(learner: Learner): void | Promise<void>;
  onBatchEnd?(learner: Learner, metrics: StepMetrics): void | Promise<void>;
  onEpochEnd?(learner: Learner, metrics: EpochMetrics): void | Promise<void>;
  onFitEnd?(learner: Learner, outcome: FitOutcome): void | Promise<void>;
}

export interface EvalResult {
  loss: number;
  acc: number;
  ttaAcc?: number;
}

const EVAL_BATCH = 250;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Learner {
  position: Position;
  private stopReason: 'pause' | 'stop' | null = null;
  private readonly lut: Float32Array;
  private readonly size: number;

  constructor(
    readonly model: Model,
    readonly sgd: Sgd,
    readonly dataset: LoadedDataset,
    readonly config: ResolvedConfig,
    readonly resolved: ResolvedRun,
    readonly callbacks: Callback[] = [],
    position: Position = START_POSITION,
  ) {
    this.position = { ...position };
    this.lut = normalisationTable(dataset.mean, dataset.std);
    this.size = dataset.imageSize;
  }

  /** Ask the loop to end after the current batch; checked every batch. */
  requestStop(reason: 'pause' | 'stop'): void {
    this.stopReason ??= reason;
  }

  get trainSplit(): ImageSplit {
    const n = this.resolved.trainCount;
    const per = this.size * this.size * 3;
    const t = this.dataset.train;
    return n === t.count ? t : { count: n, images: t.images.subarray(0, n * per), labels: t.labels.subarray(0, n) };
  }

  get valSplit(): ImageSplit {
    const n = this.resolved.valCount;
    const per = this.size * this.size * 3;
    const v = this.dataset.val;
    return n === v.count ? v : { count: n, images: v.images.subarray(0, n * per), labels: v.labels.subarray(0, n) };
  }

  /** The learning rate and momentum at a step; replaceable, as the LR range test does. */
  schedule = (step: number): ScheduleValue => scheduleAt({ ...this.config.opt, lrMax: this.resolved.lrMax }, step, this.resolved.totalSteps);

  /** Most images per forward/backward pass (see trainStep); the trainer sets it from the backend's memory. */
  microBatch: number | undefined = undefined;

  /** Evaluate on the validation split after each epoch (the LR range test turns this off). */
  evaluateEachEpoch = true;

  async fit(): Promise<FitOutcome> {
    for (const cb of this.callbacks) await cb.onFitStart?.(this);
    let outcome: FitOutcome = 'finished';
    while (this.position.epoch < this.resolved.epochs) {
      const done = await this.runEpoch();
      if (!done) {
        outcome = this.stopReason === 'stop' ? 'stopped' : 'paused';
        break;
      }
    }
    for (const cb of this.callbacks) await cb.onFitEnd?.(this, outcome);
    return outcome;
  }

  /** One epoch from the current position; false when stopped part-way. */
  private async runEpoch(): Promise<boolean> {
    const { batchSize, stepsPerEpoch } = this.resolved;
    const split = this.trainSplit;
    const plan = planEpoch(split.count, this.size, this.config.aug, this.config.seed, this.position.epoch);
    const per = this.size * this.size * 3;
    const buffers = [new Float32Array(batchSize * per), new Float32Array(batchSize * per)];
    const labels = [new Int32Array(batchSize), new Int32Array(batchSize)];
    const fill = (i: number, slot: number) =>
      assembleTrainBatch(split, this.size, plan, i * batchSize, batchSize, this.config.aug, this.lut, buffers[slot]!, labels[slot]!);
    const first = this.position.stepInEpoch;
    if (first < stepsPerEpoch) fill(first, 0);
    for (let i = first; i < stepsPerEpoch; i++) {
      if (this.stopReason) return false;
      const slot = (i - first) % 2;
      const started = performance.now();
      const metrics = await this.runBatch(buffers[slot]!, labels[slot]!, () => {
        if (i + 1 < stepsPerEpoch) fill(i + 1, 1 - slot);
      });
      this.position.trainSeconds += (performance.now() - started) / 1000;
      for (const cb of this.callbacks) await cb.onBatchEnd?.(this, metrics);
      await yieldToEventLoop();
    }
    await this.endEpoch();
    return true;
  }

  /**
   * One optimiser step. `prepareNext` runs after the step is dispatched and before its results are
   * read, so on asynchronous backends the next batch is assembled while this one computes.
   */
  private async runBatch(images: Float32Array, labels: Int32Array, prepareNext: () => void): Promise<StepMetrics> {
    const { batchSize } = this.resolved;
    const { lr, momentum } = this.schedule(this.position.step);
    const stats = tf.tidy(() =>
      trainStep(this.model, this.sgd, tf.tensor4d(images, [batchSize, this.size, this.size, 3]), tf.tensor1d(labels, 'int32'), {
        lr,
        momentum,
        labelSmoothing: this.config.opt.labelSmoothing,
        dropoutSeed: this.config.seed * 1_000_003 + this.position.step,
        microBatch: this.microBatch,
      }),
    );
    prepareNext();
    const [loss, correct] = await stats.data();
    stats.dispose();
    this.position.step++;
    this.position.stepInEpoch++;
    this.position.lossSum += loss! * batchSize;
    this.position.correct += correct!;
    this.position.seen += batchSize;
    return { step: this.position.step, epoch: this.position.epoch, loss: loss!, lr, momentum };
  }

  private async endEpoch(): Promise<void> {
    const p = this.position;
    const evalStart = performance.now();
    const val = this.evaluateEachEpoch ? await this.evaluate(this.valSplit, this.config.aug.tta) : { loss: NaN, acc: NaN };
    const evalSeconds = (performance.now() - evalStart) / 1000;
    const metrics: EpochMetrics = {
      epoch: p.epoch + 1,
      step: p.step,
      trainLoss: p.seen ? p.lossSum / p.seen : NaN,
      trainAcc: p.seen ? p.correct / p.seen : NaN,
      valLoss: val.loss,
      valAcc: val.acc,
      ...(val.ttaAcc !== undefined ? { ttaAcc: val.ttaAcc } : {}),
      lr: this.schedule(Math.max(p.step - 1, 0)).lr,
      imagesPerSec: p.trainSeconds > 0 ? p.seen / p.trainSeconds : 0,
      seconds: p.trainSeconds,
      evalSeconds,
    };
    this.position = { ...START_POSITION, epoch: p.epoch + 1, step: p.step };
    for (const cb of this.callbacks) await cb.onEpochEnd?.(this, metrics);
  }

  /** Loss and accuracy with BN running statistics; with `tta`, also the accuracy of image + flip averaged. */
  async evaluate(split: ImageSplit, tta: boolean): Promise<EvalResult> {
    const per = this.size * this.size * 3;
    let lossSum = 0;
    let correct = 0;
    let ttaCorrect = 0;
    for (let start = 0; start < split.count; start += EVAL_BATCH) {
      const n = Math.min(EVAL_BATCH, split.count - start);
      const images = new Float32Array(n * per);
      const labels = new Int32Array(n);
      assembleEvalBatch(split, this.size, start, n, this.lut, images, labels);
      const stats = tf.tidy(() => {
        const x = tf.tensor4d(images, [n, this.size, this.size, 3]);
        const y = tf.tensor1d(labels, 'int32');
        const logits = this.model.forward(x, false);
        const loss = tf.sum(tf.losses.softmaxCrossEntropy(tf.oneHot(y, logits.shape[1]), logits, undefined, 0, tf.Reduction.NONE));
        const hits = (t: tf.Tensor) => tf.sum(tf.cast(tf.equal(tf.argMax(t, 1), y), 'float32'));
        const parts = [loss, hits(logits)];
        if (tta) {
          const flipped = this.model.forward(tf.reverse(x, 2), false);
          parts.push(hits(tf.add(tf.softmax(logits), tf.softmax(flipped))));
        }
        return tf.stack(parts);
      });
      const values = await stats.data();
      stats.dispose();
      lossSum += values[0]!;
      correct += values[1]!;
      if (tta) ttaCorrect += values[2]!;
      await yieldToEventLoop();
    }
    const n = Math.max(split.count, 1);
    return { loss: lossSum / n, acc: correct / n, ...(tta ? { ttaAcc: ttaCorrect / n } : {}) };
  }
}
