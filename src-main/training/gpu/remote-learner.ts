import type { LoadedDataset } from '../../common/dataset-types.ts';
import type { Callback, FitOutcome, LearnerView } from '../../engine/train/learner.ts';
import type { Position } from '../../engine/train/position.ts';
import { EPOCH_VAL_SAMPLE } from '../../engine/train/val-sample.ts';
import type { Model } from '../../engine/model/model.ts';
import type { Sgd } from '../../engine/train/sgd.ts';
import { readTrainingState, writeTrainingState } from '../../engine/train/training-state.ts';
import type { ResolvedRun } from '../../../src-shared/run-config.ts';
import type { OwnerLink, PageMessage } from './gpu-protocol.ts';
import { nextMessage } from './next-message.ts';
import type { SplitPredictions } from '../../engine/train/predict-split.ts';

/** How long the page may take to score a validation split after the fit (a hung page: the evaluation runs here instead). */
const PREDICT_TIMEOUT_MS = 10 * 60_000;

/**
 * The learner as the file-owning process sees a fit that runs on the GPU trainer page: the same `fit(signal)`,
 * `position` and callbacks as a local Learner, so the trainer's callbacks (metrics, progress, checkpoints) and the
 * run record work unchanged. The page reports steps and epochs; at each epoch's end and at the fit's end it sends
 * the whole state, which goes into `model` and `sgd` here (a mirror on a CPU backend) before the callbacks run, so
 * checkpoints are written from it exactly as from a local fit. Messages are handled one at a time, in order.
 */
export class RemoteLearner implements LearnerView {
  position: Position;
  microBatch: number | undefined = undefined;
  /** The page's learner validates this many images after each epoch but the last (its default). */
  readonly epochValSample = EPOCH_VAL_SAMPLE;
  private stopped = false;

  constructor(
    private readonly link: OwnerLink,
    readonly model: Model,
    readonly sgd: Sgd,
    readonly dataset: LoadedDataset,
    readonly resolved: ResolvedRun,
    readonly callbacks: Callback<LearnerView>[],
    position: Position,
  ) {
    this.position = { ...position };
  }

  /** For callbacks (a test hook's pause): forwarded to the page, which ends after its current step. */
  requestStop(reason: 'pause' | 'stop' | 'diverge'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.link.send({ type: 'stop', reason });
  }

  async fit(signal?: AbortSignal): Promise<FitOutcome> {
    const onAbort = () => this.requestStop(signal?.reason === 'pause' ? 'pause' : 'stop');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (const cb of this.callbacks) await cb.onFitStart?.(this);
      const outcome = await this.drive();
      for (const cb of this.callbacks) await cb.onFitEnd?.(this, outcome);
      return outcome;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * After the fit, the run's evaluation on the page's WebGPU: `model`'s weights (a checkpoint's, loaded here) over
   * the first `count` validation images, as predict-split.ts scores them.
   */
  async predict(model: Model, count: number): Promise<SplitPredictions & { backend: string }> {
    const weights: Record<string, Float32Array> = {};
    for (const [name, v] of model.namedVariables()) weights[name] = (await v.data()) as Float32Array;
    const reply = nextMessage(this.link, 'predicted', PREDICT_TIMEOUT_MS);
    this.link.send({ type: 'predict', weights, count });
    const { scores, probs, ttaProbs } = await reply;
    return { scores, probs, ttaProbs, backend: 'webgpu' };
  }

  private drive(): Promise<FitOutcome> {
    return new Promise<FitOutcome>((resolve, reject) => {
      let chain = Promise.resolve();
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const done = (o: FitOutcome) => {
        if (settled) return;
        settled = true;
        resolve(o);
      };
      this.link.onClose((reason) =>
        fail(
          Object.assign(
            new Error(`the GPU trainer page went away before the fit ended (${reason ?? 'its renderer crashed or was closed'})`),
            { name: 'GpuPageGoneError' },
          ),
        ),
      );
      this.link.onMessage((m) => {
        chain = chain.then(() => (settled ? undefined : this.handle(m, done))).catch(fail);
      });
      void (async () => {
        // Sent only after the abort listener is on, so a pause already asked for goes right after.
        this.link.send({
          type: 'init',
          resolved: this.resolved,
          dataset: this.dataset,
          position: this.position,
          state: await readTrainingState(this.model, this.sgd),
          ...(this.microBatch !== undefined ? { microBatch: this.microBatch } : {}),
          ...(this.sgd.lrScale ? { lrScale: Object.fromEntries(this.sgd.lrScale) } : {}),
        });
      })().catch(fail);
    });
  }

  private async handle(m: PageMessage, done: (o: FitOutcome) => void): Promise<void> {
    switch (m.type) {
      case 'steps':
        for (const [i, s] of m.steps.entries()) {
          // Each callback sees the position as of its step's read; the last one the page's.
          if (i === m.steps.length - 1) this.position = m.position;
          for (const cb of this.callbacks) await cb.onBatchEnd?.(this, s);
        }
        return;
      case 'epoch':
        writeTrainingState(this.model, this.sgd, m.state);
        this.position = m.position;
        for (const cb of this.callbacks) await cb.onEpochEnd?.(this, m.metrics);
        return;
      case 'done':
        writeTrainingState(this.model, this.sgd, m.state);
        this.position = m.position;
        done(m.outcome);
        return;
      case 'error':
        throw Object.assign(new Error(m.error.message), { name: m.error.name });
      default:
        return;
    }
  }
}
