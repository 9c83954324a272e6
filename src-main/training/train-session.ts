import path from 'node:path';
import { MICRO_BATCH_NOTE, microBatchLimit, splitBatch } from '../engine/train/micro-batch.ts';
import { serializeError } from '../common/errors.ts';
import { evaluateRun } from './evaluate-run.ts';
import { RunStore } from '../runs/run-store.ts';
import type { MetricLine } from '../../src-shared/run-types.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import { buildGraph } from '../engine/arch/graph.ts';
import { checkModelSize } from '../engine/arch/model-size.ts';
import { frozenRun } from './frozen-run.ts';
import { loadDataset } from './load-dataset.ts';
import { Model } from '../engine/model/model.ts';
import { cleanCheckpoints, loadCheckpoint, resolveCheckpoint, saveCheckpoint } from '../engine/train/checkpoint.ts';
import { applyInitWeights, INIT_SLOT } from '../engine/train/fine-tune.ts';
import { Learner, START_POSITION, type Callback, type FitOutcome, type StepMetrics } from '../engine/train/learner.ts';
import { Sgd } from '../engine/train/sgd.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import type { EpochMetrics } from '../../src-shared/train-types.ts';
import type { ResolvedRun } from '../../src-shared/run-config.ts';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { SYNTHETIC_ID } from '../engine/data/synthetic.ts';
import { runHint } from './run-hint.ts';

export interface SessionOptions {
  home: string;
  runId: string;
  emit: (message: TrainerMessage) => void;
  /** Called once the learner exists, so the host can wire pause/stop requests to it. */
  onLearner?: (learner: Learner) => void;
}

/** At most this many per-step lines per run in metrics.jsonl; plots decimate further. */
const MAX_STEP_LINES = 2000;
const PROGRESS_INTERVAL_MS = 250;

/**
 * Train one run to the end or until paused/stopped: what a trainer process does. It owns the run
 * while it holds the lock: status, metrics, checkpoints. Resumes from `checkpoints/latest` when there is one.
 */
export async function runTrainingSession(opts: SessionOptions): Promise<FitOutcome> {
  const { home, runId, emit } = opts;
  const store = new RunStore(home);
  // A refusal (another trainer holds the run) reaches the parent as an error, not as a silent exit.
  const release = await store.acquireLock(runId, { heartbeat: true }).catch((err) => {
    emit({ type: 'error', runId, error: serializeError(err) });
    throw err;
  });
  const sessionStart = performance.now();
  let record = await store.get(runId);
  let learner: Learner | undefined;
  try {
    // Everything below comes from what the run stored at creation, never from the presets of this code.
    const resolved = frozenRun(record);
    const { config } = resolved;
    const backend = await loadBackend(config.backend);
    const dataset = await loadDataset(home, config.data.dataset, record.dataset.excluded);
    if (dataset.manifestHash !== record.dataset.manifestHash) {
      throw new Error(`dataset ${dataset.id} changed since run ${runId} was created (manifest hash differs)`);
    }
    const graph = buildGraph(config.net.arch, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
    checkModelSize(graph, resolved.batchSize);
    const model = new Model(graph, config.seed);
    const sgd = new Sgd(model.params, config.opt);
    const latest = path.join(store.checkpointDir(runId), 'latest');
    const best = path.join(store.checkpointDir(runId), 'best');
    // This process holds the lock: sweep what a crash mid-save left, keeping each slot's newest complete checkpoint.
    await cleanCheckpoints(latest);
    await cleanCheckpoints(best);
    let position = START_POSITION;
    if (resolveCheckpoint(latest)) {
      position = (await loadCheckpoint(latest, model, sgd)).position;
      // Lines written after the checkpoint (a crash) are replayed by this session.
      await store.rewindMetrics(runId, position.step);
    } else if (record.progress.step > 0) {
      // The record moves on only after a checkpoint is complete: one existed and is gone. Never restart from step 0 silently.
      throw new Error(
        `run ${runId} reached step ${record.progress.step} but has no complete checkpoint in ${store.checkpointDir(runId)}; resuming would restart it from step 0, so it was not resumed (start a new run with the same config instead)`,
      );
    } else if (resolved.config.initFrom) {
      // A fine-tune's first session: the source run's weights, its head drawn afresh from the seed when the classes differ.
      await applyInitWeights(path.join(store.checkpointDir(runId), INIT_SLOT), model, new Set(record.origin?.reinitialised ?? []));
    }
    const stepStride = Math.max(1, Math.ceil(resolved.totalSteps / MAX_STEP_LINES));
    const wallAtStart = record.wallSeconds;
    const wall = () => wallAtStart + (performance.now() - sessionStart) / 1000;
    let bestSoFar = record.best;
    let lastEpoch: EpochMetrics | undefined;
    let evalSeconds = 0;
    let evalEpochs = 0;
    let lastProgress = 0;
    // Test hook: pause after this step, as a pause request arriving then would (tests of exact resume).
    const pauseAtStep = Number(process.env.KILN_PAUSE_AT_STEP ?? NaN);
    // Test hook: slow each step down, so a test can act on a run that is still training on a fast machine.
    const stepDelayMs = Number(process.env.KILN_TEST_STEP_DELAY_MS ?? 0);

    let lastSent: StepMetrics | undefined;
    let lastStep: StepMetrics | undefined;
    const sendProgress = (l: Learner, m: StepMetrics) => {
      lastSent = m;
      const p = l.position;
      const stepSec = p.stepInEpoch > 0 ? p.trainSeconds / p.stepInEpoch : 0;
      const stepsLeft = resolved.totalSteps - m.step;
      const epochsLeft = resolved.epochs - p.epoch;
      // Until an evaluation has been timed, guess it: a forward pass is about a third of a training step, twice with TTA.
      const evalPerEpoch =
        evalEpochs > 0 ? evalSeconds / evalEpochs : (stepSec * (resolved.valCount / resolved.batchSize) * (resolved.config.aug.tta ? 2 : 1)) / 3;
      emit({
        type: 'progress',
        progress: {
          runId,
          epoch: Math.min(p.epoch + 1, resolved.epochs),
          epochs: resolved.epochs,
          step: m.step,
          totalSteps: resolved.totalSteps,
          stepInEpoch: p.stepInEpoch,
          stepsPerEpoch: resolved.stepsPerEpoch,
          loss: m.loss,
          lr: m.lr,
          momentum: m.momentum,
          imagesPerSec: p.trainSeconds > 0 ? p.seen / p.trainSeconds : 0,
          // The whole run: steps left, an evaluation after each epoch left, and the final evaluation of the best checkpoint.
          etaSeconds: stepSec > 0 ? stepsLeft * stepSec + evalPerEpoch * (epochsLeft + 1) : null,
        },
      });
    };

    const logger: Callback = {
      async onBatchEnd(l, m) {
        lastStep = m;
        if (m.step === pauseAtStep) l.requestStop('pause');
        if (stepDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, stepDelayMs));
        if (m.step % stepStride === 0) {
          // Epochs are 1-based wherever a person or a file sees them (the learner counts from 0).
          const line: MetricLine = { type: 'step', step: m.step, epoch: m.epoch + 1, loss: Number.isFinite(m.loss) ? m.loss : null, lr: m.lr, momentum: m.momentum, t: wall() };
          await store.appendMetrics(runId, [line]);
        }
        const now = performance.now();
        if (now - lastProgress < PROGRESS_INTERVAL_MS && m.step !== resolved.totalSteps) return;
        lastProgress = now;
        sendProgress(l, m);
      },
      async onEpochEnd(l, m) {
        evalSeconds += m.evalSeconds;
        evalEpochs++;
        lastEpoch = m;
        const line: MetricLine = { type: 'epoch', ...jsonSafe(m), t: wall() } as MetricLine;
        await store.appendMetrics(runId, [line]);
        await store.flushMetrics(runId);
        const improved = !bestSoFar || m.valAcc > bestSoFar.valAcc;
        if (improved) bestSoFar = { valAcc: m.valAcc, ttaAcc: m.ttaAcc ?? null, epoch: m.epoch };
        await saveCheckpoint(latest, model, sgd, l.position, { epoch: m.epoch });
        if (improved) await saveCheckpoint(best, model, sgd, l.position, { epoch: m.epoch, valAcc: m.valAcc });
        record = await store.update(runId, {
          progress: { epoch: m.epoch, step: m.step, totalSteps: resolved.totalSteps },
          best: bestSoFar,
          final: { valAcc: m.valAcc, ttaAcc: m.ttaAcc ?? null, valLoss: Number.isFinite(m.valLoss) ? m.valLoss : null },
          wallSeconds: wall(),
        });
        emit({ type: 'epoch', runId, metrics: m });
        emit({ type: 'checkpoint', runId, step: m.step });
      },
    };
    learner = new Learner(model, sgd, dataset, config, resolved, [logger], position);
    const microBatch = microBatchLimit(graph, resolved.batchSize, backend.name);
    if (microBatch < resolved.batchSize) learner.microBatch = microBatch;
    const backendRecord = {
      name: backend.name,
      device: backend.device,
      ...(backend.adapter ? { adapter: backend.adapter } : {}),
      ...(microBatch < resolved.batchSize ? { microBatch: { size: microBatch, parts: splitBatch(resolved.batchSize, microBatch).length, note: MICRO_BATCH_NOTE } } : {}),
    };
    opts.onLearner?.(learner);
    record = await store.update(runId, {
      status: 'running',
      backend: backendRecord,
      startedAt: record.startedAt ?? new Date().toISOString(),
      progress: { epoch: Math.min(position.epoch + 1, resolved.epochs), step: position.step, totalSteps: resolved.totalSteps },
    });
    emit({ type: 'started', runId, backend: backendRecord, resumedAtStep: position.step, totalSteps: resolved.totalSteps });

    const outcome = await learner.fit();
    // Progress is throttled: make sure the last step taken is the last one reported.
    if (lastStep && lastStep !== lastSent) sendProgress(learner, lastStep);
    if (outcome !== 'finished') await saveCheckpoint(latest, model, sgd, learner.position, { paused: true });
    await store.flushMetrics(runId);
    const status = outcome === 'finished' ? 'finished' : outcome === 'paused' ? 'paused' : 'stopped';
    record = await store.update(runId, {
      status,
      progress: { epoch: Math.min(learner.position.epoch + 1, resolved.epochs), step: learner.position.step, totalSteps: resolved.totalSteps },
      wallSeconds: wall(),
      ...(status === 'paused' ? {} : { endedAt: new Date().toISOString() }),
    });
    if (outcome === 'finished' && lastEpoch) {
      const hint = await finishedRunHint(home, dataset, resolved, record.config.opt.epochs > 0, lastEpoch).catch(() => null);
      if (hint) record = await store.update(runId, { hint });
    }
    if (outcome === 'finished') {
      // The evaluation is a by-product: failing it leaves a finished run finished (`kiln runs eval` retries).
      await evaluateRun(home, runId, { checkpoint: 'best', dataset }).catch((err) => console.error(`kiln: evaluation of run ${runId} failed: ${serializeError(err).message}`));
    }
    emit({ type: 'done', runId, outcome, valAcc: record.final?.valAcc ?? null, ttaAcc: record.final?.ttaAcc ?? null, seconds: record.wallSeconds });
    model.dispose();
    sgd.dispose();
    return outcome;
  } catch (err) {
    const error = serializeError(err);
    await store.flushMetrics(runId).catch(() => undefined);
    await store.update(runId, { status: 'failed', error, endedAt: new Date().toISOString(), wallSeconds: record.wallSeconds + (performance.now() - sessionStart) / 1000 }).catch(() => undefined);
    emit({ type: 'error', runId, error });
    throw err;
  } finally {
    await store.closeMetrics(runId).catch(() => undefined);
    await release();
  }
}

/** The one-line hint for a finished run whose result is weak for a reason Kiln can name (run-hint.ts). */
async function finishedRunHint(home: string, dataset: LoadedDataset, resolved: ResolvedRun, epochsGiven: boolean, last: EpochMetrics): Promise<string | null> {
  const trainPerClass = dataset.classes.map(() => 0);
  const labels = dataset.train.labels.subarray(0, resolved.trainCount);
  for (const l of labels) trainPerClass[l]!++;
  let medianShortSide: number | null = null;
  if (dataset.id !== SYNTHETIC_ID) {
    const source = (await new DatasetStore(home).get(dataset.id)).source;
    if (source.kind === 'folder') medianShortSide = source.medianShortSide ?? null;
  }
  return runHint({
    valAcc: last.valAcc,
    trainAcc: last.trainAcc,
    totalSteps: resolved.totalSteps,
    stepsPerEpoch: resolved.stepsPerEpoch,
    epochsGiven,
    classes: dataset.classes,
    trainPerClass,
    imageSize: dataset.imageSize,
    medianShortSide,
  });
}

/** JSON has no NaN or Infinity; a diverged loss is stored as null. */
function jsonSafe(m: EpochMetrics): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v]));
}
