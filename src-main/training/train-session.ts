import path from 'node:path';
import { MICRO_BATCH_NOTE, microBatchLimit, splitBatch } from '../engine/train/micro-batch.ts';
import { serializeError } from '../common/errors.ts';
import { evaluateRun } from './evaluate-run.ts';
import { RunStore } from '../runs/run-store.ts';
import { ensureSpaceReserve } from '../runs/space-reserve.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import { buildGraph } from '../engine/arch/graph.ts';
import { checkModelSize } from '../engine/arch/model-size.ts';
import { checkpointer, metricsLogger, progressReporter, testHooks } from './session-callbacks.ts';
import { describeDivergence, divergenceGuard } from '../engine/train/divergence.ts';
import { loadDataset } from './load-dataset.ts';
import { Model } from '../engine/model/model.ts';
import { cleanCheckpoints, loadCheckpoint, resolveCheckpoint, saveCheckpoint } from '../engine/train/checkpoint.ts';
import { applyInitWeights, INIT_SLOT } from '../engine/train/fine-tune.ts';
import { Learner, type FitOutcome } from '../engine/train/learner.ts';
import { START_POSITION } from '../engine/train/position.ts';
import { Sgd } from '../engine/train/sgd.ts';
import { predictSplit } from '../engine/train/predict-split.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import type { EpochMetrics } from '../../src-shared/train-types.ts';
import type { ResolvedRun } from '../../src-shared/run-config.ts';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { datasetSource } from './dataset-source.ts';
import { runHint } from './run-hint.ts';
import { applyBackboneWeights, bodyLrScales, withRunNormalisation } from './backbone-init.ts';
import { runFastTransfer } from './fast-transfer.ts';
import { BackendUnavailableError, type BackendInfo } from '../engine/backend/load-backend.ts';
import { adapterDevice } from '../engine/backend/webgpu-adapter.ts';
import type { OwnerLink } from './gpu/gpu-protocol.ts';
import { meetGpuPage } from './gpu/gpu-handshake.ts';
import { RemoteLearner } from './gpu/remote-learner.ts';
import type { WebgpuAdapter } from '../../src-shared/backend-types.ts';

export interface SessionOptions {
  home: string;
  runId: string;
  emit: (message: TrainerMessage) => void;
  /** Pauses (reason 'pause') or stops (any other reason) the run after the current step. */
  signal?: AbortSignal;
  /**
   * The GPU trainer page (Chromium's WebGPU; training/gpu), for a run whose backend is `webgpu` or `auto`: its
   * steps run there while this process keeps the files. `auto` falls back to a local backend, saying why.
   */
  gpu?: OwnerLink;
}

/** The tfjs backend of the process that owns a GPU page's run: its copy of the weights for checkpoints, and the final evaluation. */
const GPU_OWNER_BACKEND = 'wasm';

/**
 * Where the run trains: on the GPU page when it has one and it passed its self-check; otherwise on this process's
 * backend (`auto` records why it did not use the page; an explicit `webgpu` fails with that reason).
 */
async function chooseBackend(
  opts: SessionOptions,
  choice: ResolvedRun['config']['backend'],
): Promise<{ backend: BackendInfo; page?: { link: OwnerLink; adapter: WebgpuAdapter; checked: string }; fallback?: string }> {
  if (!opts.gpu || (choice !== 'auto' && choice !== 'webgpu')) return { backend: await loadBackend(choice) };
  const verdict = await meetGpuPage(opts.gpu, opts.home, choice);
  if (verdict.ok) {
    const mirror = await loadBackend(GPU_OWNER_BACKEND);
    return {
      backend: { ...mirror, name: 'webgpu', tfjsBackend: 'webgpu', device: adapterDevice(verdict.adapter), adapter: verdict.adapter },
      page: { link: opts.gpu, adapter: verdict.adapter, checked: verdict.checked },
    };
  }
  opts.gpu.send({ type: 'close' });
  if (choice === 'webgpu') throw new BackendUnavailableError(`backend "webgpu" is unavailable: ${verdict.reason}`);
  return { backend: await loadBackend('auto'), fallback: `not on the GPU: ${verdict.reason}` };
}

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
  // Room to record this run's end even if its checkpoints fill the disk.
  await ensureSpaceReserve(store.root);
  let record = await store.get(runId);
  let learner: Learner | RemoteLearner | undefined;
  let page: OwnerLink | undefined;
  try {
    // Everything below comes from what the run stored at creation, never from the presets of this code.
    const { resolved } = record;
    const { config } = resolved;
    const chosen = await chooseBackend(opts, config.backend);
    const { backend } = chosen;
    page = chosen.page?.link;
    const dataset = withRunNormalisation(await loadDataset(home, config.data.dataset, record.dataset.excluded), config);
    if (dataset.manifestHash !== record.dataset.manifestHash) {
      throw new Error(`dataset ${dataset.id} changed since run ${runId} was created (manifest hash differs)`);
    }
    const graph = buildGraph(config.net.arch, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
    const fast = config.backbone?.mode === 'fast';
    if (!fast) checkModelSize(graph, resolved.config.opt.batchSize, 'architecture', backend.name);
    const model = new Model(graph, config.seed);
    const latest = path.join(store.checkpointDir(runId), 'latest');
    const best = path.join(store.checkpointDir(runId), 'best');
    if (fast && !resolveCheckpoint(best)) {
      await applyBackboneWeights(store.runDir(runId), config.backbone!, model);
      return await fastSession({
        home,
        runId,
        emit,
        signal: opts.signal,
        store,
        record,
        resolved,
        dataset,
        model,
        latest,
        best,
        sessionStart,
        backendName: backend.name,
        backendDevice: backend.device,
      });
    }
    const sgd = new Sgd(model.params, { ...config.opt, lrScale: bodyLrScales(graph, model.params, config.backbone) });
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
    } else {
      // From step 0: lines a session killed before its first checkpoint wrote would be logged a second time.
      await store.rewindMetrics(runId, 0);
      // A fine-tune of a pretrained backbone: its weights and BN statistics, a new head from the seed.
      if (config.backbone) await applyBackboneWeights(store.runDir(runId), config.backbone, model);
      // A fine-tune's first session: the source run's weights, its head drawn afresh from the seed when the classes differ.
      else if (resolved.config.initFrom)
        await applyInitWeights(path.join(store.checkpointDir(runId), INIT_SLOT), model, new Set(record.origin?.reinitialised ?? []));
    }
    const wallAtStart = record.wallSeconds;
    const wall = () => wallAtStart + (performance.now() - sessionStart) / 1000;
    const progress = progressReporter(emit, runId, resolved);
    const saver = checkpointer({ store, runId, model, sgd, latest, best, resolved, record, wall, emit, onRecord: (r) => (record = r) });
    // Order matters at an epoch's end: its metrics line is written before the checkpoint and run.json move on.
    const guard = divergenceGuard();
    const callbacks = [...testHooks(), metricsLogger(store, runId, resolved, wall), progress, guard, saver];
    learner = page
      ? new RemoteLearner(page, model, sgd, dataset, resolved, callbacks, position)
      : new Learner(model, sgd, dataset, resolved, callbacks, position);
    const microBatch = microBatchLimit(graph, resolved.config.opt.batchSize, backend.name);
    if (microBatch < resolved.config.opt.batchSize) learner.microBatch = microBatch;
    const backendRecord = {
      name: backend.name,
      device: backend.device,
      ...(backend.adapter ? { adapter: backend.adapter } : {}),
      ...(chosen.page
        ? { runsIn: `Chromium's WebGPU (GPU trainer page; self-check ${chosen.page.checked === 'now' ? 'passed' : 'passed earlier'})` }
        : {}),
      ...(chosen.fallback ? { fallback: chosen.fallback } : {}),
      ...(microBatch < resolved.config.opt.batchSize
        ? { microBatch: { size: microBatch, parts: splitBatch(resolved.config.opt.batchSize, microBatch).length, note: MICRO_BATCH_NOTE } }
        : {}),
    };
    record = await store.update(runId, {
      status: 'running',
      backend: backendRecord,
      startedAt: record.startedAt ?? new Date().toISOString(),
      progress: { epoch: Math.min(position.epoch + 1, resolved.config.opt.epochs), step: position.step, totalSteps: resolved.totalSteps },
    });
    emit({ type: 'started', runId, backend: backendRecord, resumedAtStep: position.step, totalSteps: resolved.totalSteps });

    const outcome = await learner.fit(opts.signal);
    progress.finish(learner);
    // A diverged run's weights are not worth keeping: `latest` stays the last epoch's checkpoint.
    if (outcome === 'paused' || outcome === 'stopped') await saveCheckpoint(latest, model, sgd, learner.position, { paused: true });
    await store.flushMetrics(runId);
    const status = outcome;
    if (guard.diverged) console.error(`kiln: run ${runId} ${describeDivergence(guard.diverged)}`);
    record = await store.update(runId, {
      status,
      ...(guard.diverged ? { diverged: guard.diverged, hint: describeDivergence(guard.diverged) } : {}),
      progress: {
        epoch: Math.min(learner.position.epoch + 1, resolved.config.opt.epochs),
        step: learner.position.step,
        totalSteps: resolved.totalSteps,
      },
      wallSeconds: wall(),
      ...(status === 'paused' ? {} : { endedAt: new Date().toISOString() }),
    });
    const lastEpoch = saver.lastEpoch;
    if (outcome === 'finished' && lastEpoch) {
      const hint = await finishedRunHint(home, dataset, resolved, record.request.opt.epochs !== null, lastEpoch).catch(() => null);
      if (hint) record = await store.update(runId, { hint });
    }
    if (outcome === 'finished') {
      // The evaluation is a by-product: failing it leaves a finished run finished (`kiln runs eval` retries).
      // A GPU run's page scores the best checkpoint on its WebGPU; if it cannot, this process does (wasm).
      const remote = learner instanceof RemoteLearner ? learner : undefined;
      const onPage = (count: number, best: Model) =>
        remote!.predict(best, count).catch((err: unknown) => {
          console.error(
            `kiln: run ${runId}: the GPU page could not evaluate (${serializeError(err).message}); evaluating in the trainer process instead`,
          );
          return predictSplit(best, dataset, count);
        });
      const ev = await evaluateRun(home, runId, { checkpoint: 'best', dataset, ...(remote ? { predictions: onPage } : {}) }).catch(
        (err) => void console.error(`kiln: evaluation of run ${runId} failed: ${serializeError(err).message}`),
      );
      // The best checkpoint was picked on the per-epoch sample; its accuracies are now the whole split's, with TTA.
      if (ev && record.best && ev.epoch === record.best.epoch)
        record = await store.update(runId, { best: { ...record.best, valAcc: ev.accuracy, ttaAcc: ev.tta ? ev.ttaAccuracy : null } });
    }
    emit({
      type: 'done',
      runId,
      outcome,
      valAcc: record.final?.valAcc ?? null,
      ttaAcc: record.final?.ttaAcc ?? null,
      seconds: record.wallSeconds,
    });
    model.dispose();
    sgd.dispose();
    return outcome;
  } catch (err) {
    const error = serializeError(err);
    await store.flushMetrics(runId).catch(() => undefined);
    await store
      .update(runId, {
        status: 'failed',
        error,
        endedAt: new Date().toISOString(),
        wallSeconds: record.wallSeconds + (performance.now() - sessionStart) / 1000,
      })
      .catch(() => undefined);
    emit({ type: 'error', runId, error });
    throw err;
  } finally {
    if (page) {
      page.send({ type: 'close' });
      page.close();
    }
    await store.closeMetrics(runId).catch(() => undefined);
    await release();
  }
}

/** A fast transfer run's session: the features, the head, the checkpoints, the evaluation (fast-transfer.ts). */
async function fastSession(o: {
  home: string;
  runId: string;
  emit: SessionOptions['emit'];
  signal: AbortSignal | undefined;
  store: RunStore;
  record: Awaited<ReturnType<RunStore['get']>>;
  resolved: ResolvedRun;
  dataset: LoadedDataset;
  model: Model;
  latest: string;
  best: string;
  sessionStart: number;
  backendName: string;
  backendDevice: string;
}): Promise<FitOutcome> {
  const { home, runId, emit, store, resolved, dataset, model } = o;
  const wallAtStart = o.record.wallSeconds;
  const wall = () => wallAtStart + (performance.now() - o.sessionStart) / 1000;
  // A session killed while its head trained left step lines: the head trains again from step 0.
  await store.rewindMetrics(runId, 0);
  let record = await store.update(runId, {
    status: 'running',
    backend: { name: o.backendName, device: o.backendDevice },
    startedAt: o.record.startedAt ?? new Date().toISOString(),
  });
  emit({
    type: 'started',
    runId,
    backend: { name: o.backendName, device: o.backendDevice },
    resumedAtStep: 0,
    totalSteps: resolved.totalSteps,
  });
  try {
    const fit = await runFastTransfer({
      store,
      home,
      runId,
      record,
      resolved,
      dataset,
      model,
      latest: o.latest,
      best: o.best,
      emit,
      wall,
      signal: o.signal ?? new AbortController().signal,
    });
    record = fit.record;
    if (fit.outcome === 'finished') {
      if (fit.lastEpoch) {
        const hint = await finishedRunHint(home, dataset, resolved, record.request.opt.epochs !== null, fit.lastEpoch).catch(() => null);
        if (hint) record = await store.update(runId, { hint });
      }
      await evaluateRun(home, runId, { checkpoint: 'best', dataset, predictions: fit.predictions }).catch((err) =>
        console.error(`kiln: evaluation of run ${runId} failed: ${serializeError(err).message}`),
      );
    } else {
      record = await store.update(runId, {
        status: fit.outcome === 'paused' ? 'paused' : 'stopped',
        wallSeconds: wall(),
        ...(fit.outcome === 'paused' ? {} : { endedAt: new Date().toISOString() }),
      });
    }
    emit({
      type: 'done',
      runId,
      outcome: fit.outcome,
      valAcc: record.final?.valAcc ?? null,
      ttaAcc: record.final?.ttaAcc ?? null,
      seconds: record.wallSeconds,
    });
    return fit.outcome;
  } finally {
    model.dispose();
  }
}

/** The one-line hint for a finished run whose result is weak for a reason Kiln can name (run-hint.ts). */
async function finishedRunHint(
  home: string,
  dataset: LoadedDataset,
  resolved: ResolvedRun,
  epochsGiven: boolean,
  last: EpochMetrics,
): Promise<string | null> {
  const trainPerClass = dataset.classes.map(() => 0);
  const labels = dataset.train.labels.subarray(0, resolved.trainCount);
  for (const l of labels) trainPerClass[l]!++;
  const { origin } = await datasetSource(home, dataset.id).describe();
  const medianShortSide = origin?.kind === 'folder' ? (origin.medianShortSide ?? null) : null;
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
