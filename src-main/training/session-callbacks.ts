import type { Model } from '../engine/model/model.ts';
import { saveCheckpoint } from '../engine/train/checkpoint.ts';
import type { Callback as LearnerCallback, LearnerView, StepMetrics } from '../engine/train/learner.ts';
import type { Sgd } from '../engine/train/sgd.ts';
import type { RunStore } from '../runs/run-store.ts';
import type { ResolvedRun } from '../../src-shared/run-config.ts';
import type { MetricLine, RunRecord } from '../../src-shared/run-types.ts';
import type { EpochMetrics } from '../../src-shared/train-types.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';

/** The trainer's callbacks, one concern each; train-session.ts wires them to one learner, local or on the GPU page. */
type Callback = LearnerCallback<LearnerView>;

/** At most this many per-step lines per run in metrics.jsonl; plots decimate further. */
const MAX_STEP_LINES = 2000;
const PROGRESS_INTERVAL_MS = 250;

/** metrics.jsonl: a step line every `stride` steps, and every epoch's line, flushed at the epoch's end. */
export function metricsLogger(store: RunStore, runId: string, resolved: ResolvedRun, wall: () => number): Callback {
  const stride = Math.max(1, Math.ceil(resolved.totalSteps / MAX_STEP_LINES));
  return {
    async onBatchEnd(_l, m) {
      if (m.step % stride !== 0) return;
      // Epochs are 1-based wherever a person or a file sees them (the learner counts from 0).
      const line: MetricLine = {
        type: 'step',
        step: m.step,
        epoch: m.epoch + 1,
        loss: Number.isFinite(m.loss) ? m.loss : null,
        lr: m.lr,
        momentum: m.momentum,
        t: wall(),
      };
      await store.appendMetrics(runId, [line]);
    },
    async onEpochEnd(_l, m) {
      const line: MetricLine = { type: 'epoch', ...jsonSafe(m), t: wall() } as MetricLine;
      await store.appendMetrics(runId, [line]);
      await store.flushMetrics(runId);
    },
  };
}

/** Steps of a session left out of its step time: the first ones compile kernels and fill caches, and ran ~2× slower. */
export const WARMUP_STEPS = 3;

/**
 * `progress` messages at most every PROGRESS_INTERVAL_MS, with an ETA for the whole run; `finish` sends the last step.
 * The ETA counts the steps left at the step time measured after the warm-up steps, and the evaluations left at the
 * measured seconds per image: the sample after each epoch but the last, the whole split (twice with TTA) after the
 * last, and the final evaluation of the best checkpoint (the whole split, with and without TTA).
 */
export function progressReporter(
  emit: (m: TrainerMessage) => void,
  runId: string,
  resolved: ResolvedRun,
): Callback & { finish(l: LearnerView): void } {
  let evalSecondsPerImage = 0;
  let lastProgress = 0;
  let lastSent: StepMetrics | undefined;
  let lastStep: StepMetrics | undefined;
  let sessionSteps = 0;
  /** Where the step timing starts in the current epoch: after the warm-up, and at each later epoch's start. */
  let base: { epoch: number; seconds: number; steps: number } | undefined;
  const stepSeconds = (l: LearnerView) => {
    const p = l.position;
    if (base && base.epoch === p.epoch && p.stepInEpoch > base.steps) return (p.trainSeconds - base.seconds) / (p.stepInEpoch - base.steps);
    return p.stepInEpoch > 0 ? p.trainSeconds / p.stepInEpoch : 0;
  };
  const send = (l: LearnerView, m: StepMetrics) => {
    lastSent = m;
    const p = l.position;
    const stepSec = stepSeconds(l);
    const stepsLeft = resolved.totalSteps - m.step;
    const epochsLeft = resolved.config.opt.epochs - p.epoch;
    const full = resolved.valCount;
    const tta = resolved.config.aug.tta ? 2 : 1;
    const images = Math.max(0, epochsLeft - 1) * Math.min(l.epochValSample, full) + (epochsLeft > 0 ? full * tta : 0) + full * 2;
    // Until an evaluation has been timed, guess: a forward pass of an image is about a third of its training step.
    const perImage = evalSecondsPerImage > 0 ? evalSecondsPerImage : stepSec / resolved.config.opt.batchSize / 3;
    emit({
      type: 'progress',
      progress: {
        runId,
        epoch: Math.min(p.epoch + 1, resolved.config.opt.epochs),
        epochs: resolved.config.opt.epochs,
        step: m.step,
        totalSteps: resolved.totalSteps,
        stepInEpoch: p.stepInEpoch,
        stepsPerEpoch: resolved.stepsPerEpoch,
        loss: m.loss,
        lr: m.lr,
        momentum: m.momentum,
        imagesPerSec: p.trainSeconds > 0 ? p.seen / p.trainSeconds : 0,
        etaSeconds: stepSec > 0 ? stepsLeft * stepSec + images * perImage : null,
      },
    });
  };
  return {
    onBatchEnd(l, m) {
      lastStep = m;
      sessionSteps++;
      const p = l.position;
      if (sessionSteps === WARMUP_STEPS || (base && base.epoch !== p.epoch))
        base = { epoch: p.epoch, seconds: p.trainSeconds, steps: p.stepInEpoch };
      const now = performance.now();
      if (now - lastProgress < PROGRESS_INTERVAL_MS && m.step !== resolved.totalSteps) return;
      lastProgress = now;
      send(l, m);
    },
    onEpochEnd(_l, m) {
      if (m.valImages) evalSecondsPerImage = m.evalSeconds / (m.valImages * (m.ttaAcc !== undefined ? 2 : 1));
    },
    // Progress is throttled: make sure the last step taken is the last one reported.
    finish(l) {
      if (lastStep && lastStep !== lastSent) send(l, lastStep);
    },
  };
}

/**
 * After each epoch: the `latest` checkpoint, `best` when validation accuracy improved, run.json's progress and
 * scores (only once the checkpoint is complete), then the `epoch` and `checkpoint` messages. `lastEpoch` is the
 * last epoch's metrics.
 */
export function checkpointer(opts: {
  store: RunStore;
  runId: string;
  model: Model;
  sgd: Sgd;
  latest: string;
  best: string;
  resolved: ResolvedRun;
  record: RunRecord;
  wall: () => number;
  emit: (m: TrainerMessage) => void;
  onRecord: (r: RunRecord) => void;
}): Callback & { lastEpoch?: EpochMetrics } {
  const { store, runId, model, sgd, latest, best, resolved, wall, emit } = opts;
  let bestSoFar = opts.record.best;
  const cb: Callback & { lastEpoch?: EpochMetrics } = {
    async onEpochEnd(l, m) {
      cb.lastEpoch = m;
      const improved = !bestSoFar || m.valAcc > bestSoFar.valAcc;
      if (improved) bestSoFar = { valAcc: m.valAcc, ttaAcc: m.ttaAcc ?? null, epoch: m.epoch };
      await saveCheckpoint(latest, model, sgd, l.position, { epoch: m.epoch });
      if (improved) await saveCheckpoint(best, model, sgd, l.position, { epoch: m.epoch, valAcc: m.valAcc });
      opts.onRecord(
        await store.update(runId, {
          progress: { epoch: m.epoch, step: m.step, totalSteps: resolved.totalSteps },
          best: bestSoFar,
          final: { valAcc: m.valAcc, ttaAcc: m.ttaAcc ?? null, valLoss: Number.isFinite(m.valLoss) ? m.valLoss : null },
          wallSeconds: wall(),
        }),
      );
      emit({ type: 'epoch', runId, metrics: m });
      emit({ type: 'checkpoint', runId, step: m.step });
    },
  };
  return cb;
}

/**
 * Hooks for tests, from the environment: KILN_PAUSE_AT_STEP pauses after that step, as a pause request arriving
 * then would (tests of exact resume); KILN_TEST_STEP_DELAY_MS slows each step, so a test can act on a run that is
 * still training on a fast machine. Nothing when neither is set.
 */
export function testHooks(env: NodeJS.ProcessEnv = process.env): Callback[] {
  const pauseAtStep = Number(env.KILN_PAUSE_AT_STEP ?? NaN);
  const stepDelayMs = Number(env.KILN_TEST_STEP_DELAY_MS ?? 0);
  if (!Number.isFinite(pauseAtStep) && !(stepDelayMs > 0)) return [];
  return [
    {
      async onBatchEnd(l, m) {
        if (m.step === pauseAtStep) l.requestStop('pause');
        if (stepDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, stepDelayMs));
      },
    },
  ];
}

/** JSON has no NaN or Infinity; a diverged loss is stored as null. */
function jsonSafe(m: EpochMetrics): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v]));
}
