import * as tf from '@tensorflow/tfjs-core';
import type { ImageSplit, LoadedDataset } from '../../common/dataset-types.ts';
import type { ResolvedConfig, ResolvedRun } from '../../../src-shared/run-config.ts';
import { assembleEvalBatch, assembleTrainBatch, normalisationTable, planEpoch } from '../data/batches.ts';
import type { Model, Param } from '../model/model.ts';
import { headParamNames } from './head.ts';
import { trainStep } from './train-step.ts';
import { scheduleAt, type ScheduleValue } from './schedule.ts';
import type { Sgd } from './sgd.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';
import { START_POSITION, type Position } from './position.ts';
import { EPOCH_VAL_SAMPLE, fixedValSample } from './val-sample.ts';

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  momentum: number;
}

/** `diverged`: a callback (divergence.ts) ended the run because its loss blew up. */
export type FitOutcome = 'finished' | 'paused' | 'stopped' | 'diverged';

/** The step about to be queued; a callback's onBatchStart may change its learning rate and momentum. */
export interface BatchPlan {
  step: number;
  epoch: number;
  lr: number;
  momentum: number;
}

/**
 * Progress, checkpointing, early stop, logging and the LR range test are callbacks, as in fastai's Learner:
 * fit → epoch → batch, each with a hook before and after. onBatchStart runs synchronously as the step is
 * queued (keep it cheap); onBatchEnd runs when the step's results are read, which on a pipelined GPU loop is
 * a few steps later. beforeValidate returning false skips the epoch's evaluation.
 */
export interface Callback<L extends LearnerView = Learner> {
  onFitStart?(learner: L): void | Promise<void>;
  onEpochStart?(learner: L, epoch: number): void | Promise<void>;
  onBatchStart?(learner: L, batch: BatchPlan): void;
  onBatchEnd?(learner: L, metrics: StepMetrics): void | Promise<void>;
  beforeValidate?(learner: L): boolean | void;
  onEpochEnd?(learner: L, metrics: EpochMetrics): void | Promise<void>;
  onFitEnd?(learner: L, outcome: FitOutcome): void | Promise<void>;
}

/**
 * What a callback that needs no model sees of a learner: where the fit stands and a way to end it. A local
 * Learner is one; so is the trainer's view of a fit on the GPU trainer page (training/gpu/remote-learner.ts).
 */
export interface LearnerView {
  readonly position: Position;
  /** Validation images checked after each epoch but the last (the rest of the split only at the end). */
  readonly epochValSample: number;
  requestStop(reason: 'pause' | 'stop' | 'diverge'): void;
}

export interface EvalResult {
  loss: number;
  acc: number;
  ttaAcc?: number;
}

const EVAL_BATCH = 250;
/** A pipelined loop reads step results about this often (ms)... */
const READ_INTERVAL_MS = 200;
/** ...and lets at most this many steps queue up unread, which bounds the device memory they hold. */
const MAX_IN_FLIGHT = 8;
/** Lets messages (a pause) in between steps; in a browser (the GPU trainer page) without setTimeout's clamping. */
export const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise<void>((resolve) => setImmediate(resolve))
    : () =>
        new Promise<void>((resolve) => {
          const { port1, port2 } = new MessageChannel();
          port1.onmessage = () => {
            port1.close();
            resolve();
          };
          port2.postMessage(null);
        });

export class Learner {
  position: Position;
  /** The one way a fit ends early: the host's AbortSignal (fit's argument) and callbacks' requestStop both abort this. */
  private readonly stopper = new AbortController();
  private readonly lut: Float32Array;
  private readonly size: number;
  readonly config: ResolvedConfig;

  constructor(
    readonly model: Model,
    readonly sgd: Sgd,
    readonly dataset: LoadedDataset,
    /** The run's frozen config and its derived counts: the only settings the loop reads. */
    readonly resolved: ResolvedRun,
    readonly callbacks: Callback[] = [],
    position: Position = START_POSITION,
  ) {
    this.config = resolved.config;
    this.position = { ...position };
    this.lut = normalisationTable(dataset.mean, dataset.std);
    this.size = dataset.imageSize;
  }

  /**
   * What the current epoch trains: a fine-tune's first `opt.freezeEpochs` epochs train the head
   * only (no gradient flows into the body, so those steps are also cheaper); BN layers in the body
   * still normalise with batch statistics and update their running ones.
   */
  trainableParams(): Param[] {
    if (this.position.epoch >= this.config.opt.freezeEpochs) return this.model.params;
    const head = new Set(headParamNames(this.model.graph));
    return this.model.params.filter((p) => head.has(p.name));
  }

  /**
   * For callbacks (the LR range test's end, a divergence guard): end the fit after the current batch, as an abort
   * of fit's signal would. Hosts pass an AbortSignal to fit() instead.
   */
  requestStop(reason: 'pause' | 'stop' | 'diverge'): void {
    this.stopper.abort(reason);
  }

  private get stopReason(): 'pause' | 'stop' | 'diverge' | null {
    return this.stopper.signal.aborted ? (this.stopper.signal.reason as 'pause' | 'stop' | 'diverge') : null;
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

  /** The run's learning rate and momentum at a step (a callback's onBatchStart may override one step's). */
  readonly schedule = (step: number): ScheduleValue => scheduleAt(this.config.opt, step, this.resolved.totalSteps);

  /** Most images per forward/backward pass (see trainStep); the trainer sets it from the backend's memory. */
  microBatch: number | undefined = undefined;

  /**
   * Trains to the end of the last epoch, or until a stop is requested or `signal` aborts (its reason 'pause'
   * pauses, anything else stops); both are checked every batch.
   */
  async fit(signal?: AbortSignal): Promise<FitOutcome> {
    const onAbort = () => this.stopper.abort(signal?.reason === 'pause' || signal?.reason === 'diverge' ? signal.reason : 'stop');
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.fitLoop();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async fitLoop(): Promise<FitOutcome> {
    for (const cb of this.callbacks) await cb.onFitStart?.(this);
    let outcome: FitOutcome = 'finished';
    while (this.position.epoch < this.config.opt.epochs) {
      for (const cb of this.callbacks) await cb.onEpochStart?.(this, this.position.epoch);
      const done = await this.runEpoch();
      if (!done) {
        outcome = this.stopReason === 'stop' ? 'stopped' : this.stopReason === 'diverge' ? 'diverged' : 'paused';
        break;
      }
    }
    for (const cb of this.callbacks) await cb.onFitEnd?.(this, outcome);
    return outcome;
  }

  /**
   * On a GPU backend trainStep returns once the step is queued, not done, and reading its [loss, correct] waits
   * for the device. Pipelined, the loop reads finished steps only after the next one is queued, several steps
   * in one read (about every READ_INTERVAL_MS, so progress still moves a few times a second): the device always
   * has work queued while this thread reads results, runs callbacks and assembles the next batch. CPU backends
   * compute inside trainStep, so there is nothing to overlap and every step is read as it ends.
   */
  pipelined = tf.getBackend() === 'webgpu';

  /** Called after each read of step results: how many steps it covered and how long the thread waited for it. */
  onRead?: (e: { steps: number; waitMs: number }) => void;

  /**
   * Trace counter: milliseconds the device sat with nothing queued while this thread worked (callbacks, batch
   * assembly, queuing the next step), counted from a read that left no step queued to the next step queued.
   */
  deviceIdleMs = 0;
  private idleSince = 0;

  /** Queued steps whose results are not read yet (tensors on the device). */
  private inFlight: { stats: tf.Tensor1D; metrics: Omit<StepMetrics, 'loss'> }[] = [];
  private clock = 0;
  private lastRead = 0;

  /** One epoch from the current position; false when stopped part-way. */
  private async runEpoch(): Promise<boolean> {
    const { stepsPerEpoch } = this.resolved;
    const { batchSize } = this.config.opt;
    const split = this.trainSplit;
    const plan = planEpoch(split.count, this.size, this.config.aug, this.config.seed, this.position.epoch);
    const per = this.size * this.size * 3;
    const buffers = [new Float32Array(batchSize * per), new Float32Array(batchSize * per)];
    const labels = [new Int32Array(batchSize), new Int32Array(batchSize)];
    const fill = (i: number, slot: number) =>
      assembleTrainBatch(split, this.size, plan, i * batchSize, batchSize, this.config.aug, this.lut, buffers[slot]!, labels[slot]!);
    const first = this.position.stepInEpoch;
    if (first < stepsPerEpoch) fill(first, 0);
    this.clock = this.lastRead = performance.now();
    for (let i = first; i < stepsPerEpoch && !this.stopReason; i++) {
      const slot = (i - first) % 2;
      this.dispatch(buffers[slot]!, labels[slot]!);
      // Assembled while the step computes; the batch just queued was uploaded when its first kernel ran.
      if (i + 1 < stepsPerEpoch) fill(i + 1, 1 - slot);
      if (!this.pipelined) await this.collect(0);
      else if (
        this.inFlight.length > MAX_IN_FLIGHT ||
        (this.inFlight.length > 1 && performance.now() - this.lastRead >= READ_INTERVAL_MS)
      ) {
        await this.collect(1);
      }
      await yieldToEventLoop();
    }
    await this.collect(0);
    // A diverged last step ends the epoch without its evaluation or checkpoint: the previous one is kept.
    if (this.position.stepInEpoch < stepsPerEpoch || this.stopReason === 'diverge') return false;
    await this.endEpoch();
    return true;
  }

  /** Queues one optimiser step (forward, backward, SGD); its results are read later by `collect`. */
  private dispatch(images: Float32Array, labels: Int32Array): void {
    const { batchSize } = this.config.opt;
    const plan: BatchPlan = { step: this.position.step, epoch: this.position.epoch, ...this.schedule(this.position.step) };
    for (const cb of this.callbacks) cb.onBatchStart?.(this, plan);
    const { lr, momentum } = plan;
    const stats = tf.tidy(() =>
      trainStep(this.model, this.sgd, tf.tensor4d(images, [batchSize, this.size, this.size, 3]), tf.tensor1d(labels, 'int32'), {
        lr,
        momentum,
        labelSmoothing: this.config.opt.labelSmoothing,
        dropoutSeed: this.config.seed * 1_000_003 + this.position.step,
        microBatch: this.microBatch,
        params: this.trainableParams(),
      }),
    );
    if (this.idleSince) this.deviceIdleMs += performance.now() - this.idleSince;
    this.idleSince = 0;
    this.position.step++;
    this.position.stepInEpoch++;
    this.inFlight.push({ stats, metrics: { step: this.position.step, epoch: this.position.epoch, lr, momentum } });
  }

  /** Reads all queued steps but the last `keep` in one transfer, adds them to the epoch's sums, runs callbacks. */
  private async collect(keep: number): Promise<void> {
    const group = this.inFlight.splice(0, Math.max(0, this.inFlight.length - keep));
    if (group.length === 0) return;
    const waitStart = performance.now();
    const stacked = tf.tidy(() => (group.length === 1 ? tf.clone(group[0]!.stats) : tf.stack(group.map((g) => g.stats))));
    const values = await stacked.data();
    const now = performance.now();
    tf.dispose([stacked, ...group.map((g) => g.stats)]);
    this.lastRead = now;
    if (this.inFlight.length === 0) this.idleSince = now;
    this.position.trainSeconds += (now - this.clock) / 1000;
    this.onRead?.({ steps: group.length, waitMs: now - waitStart });
    const { batchSize } = this.config.opt;
    for (const [k, g] of group.entries()) {
      const loss = values[2 * k]!;
      this.position.lossSum += loss * batchSize;
      this.position.correct += values[2 * k + 1]!;
      this.position.seen += batchSize;
      for (const cb of this.callbacks) await cb.onBatchEnd?.(this, { ...g.metrics, loss });
    }
    this.clock = performance.now();
  }

  private async endEpoch(): Promise<void> {
    const p = this.position;
    const evalStart = performance.now();
    const validate = this.callbacks.every((cb) => cb.beforeValidate?.(this) !== false);
    // Epochs before the last: a fixed sample, without TTA; the last: the whole split, with TTA.
    const last = p.epoch + 1 >= this.config.opt.epochs;
    const split = last ? this.valSplit : this.epochValSplit();
    const val = validate ? await this.evaluate(split, last && this.config.aug.tta) : { loss: NaN, acc: NaN };
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
      ...(validate ? { valImages: split.count } : {}),
    };
    this.position = { ...START_POSITION, epoch: p.epoch + 1, step: p.step };
    for (const cb of this.callbacks) await cb.onEpochEnd?.(this, metrics);
  }

  /** Most images validated after an epoch but the last (see val-sample.ts). */
  epochValSample = EPOCH_VAL_SAMPLE;
  private valSample: ImageSplit | undefined;
  private epochValSplit(): ImageSplit {
    this.valSample ??= fixedValSample(this.valSplit, this.epochValSample, this.size);
    return this.valSample;
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
