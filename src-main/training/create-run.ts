import { UsageError } from '../common/errors.ts';
import { planInitFrom } from './init-from-run.ts';
import { RunStore } from '../runs/run-store.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';
import { resolveRun } from './resolve-config.ts';
import type { RunConfig } from '../../src-shared/run-config.ts';
import { resolveDatasetId } from './load-dataset.ts';
import { datasetSource } from './dataset-source.ts';
import { hasExclusions, keptCount } from '../common/dataset-types.ts';
import { buildGraph } from '../engine/arch/graph.ts';
import { checkModelSize } from '../engine/arch/model-size.ts';
import { runArchLabel } from '../runs/run-id.ts';
import { pickRunName } from '../runs/run-names.ts';
import { planBackbone } from './backbone-init.ts';

/**
 * Check a config against its dataset and architecture, resolve it once and completely, and record a queued
 * run. Everything that can be wrong with the request fails here, in the caller's process, before a trainer
 * starts; from here on the run reads only what run.json stores (`resolved`). The dataset is described from its
 * manifest, never loaded: starting a run in the app's main process reads no image.
 */
export async function createRun(home: string, request: RunConfig, name?: string): Promise<RunRecord> {
  const { config, dataset, excluded, backbone, resolved } = await resolveRequest(home, request);
  if (backbone) resolved.config.backbone = await backbone.resolved();
  const spec = resolved.config.net.arch;
  const graph = buildGraph(spec, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
  // A frozen backbone keeps no gradients: the feature pass needs far less than a training step.
  if (resolved.config.backbone?.mode !== 'fast')
    checkModelSize(graph, resolved.config.opt.batchSize, 'architecture', resolved.config.backend);
  const { initFrom, opt } = resolved.config;
  if (opt.freezeEpochs > 0 && !initFrom) {
    throw new UsageError('opt.freezeEpochs: freezing the body only makes sense when starting from a past run or a backbone (initFrom)');
  }
  if (opt.freezeEpochs > opt.epochs) throw new UsageError(`opt.freezeEpochs: ${opt.freezeEpochs} frozen epochs in a run of ${opt.epochs}`);
  const init = initFrom && !backbone ? await planInitFrom(home, initFrom, { spec, graph, classes: dataset.classes }) : undefined;
  const store = new RunStore(home);
  const taken = (await store.list()).runs.map((r) => r.name);
  const runName = pickRunName(taken, name, dataset.name, runArchLabel({ resolved }));
  return store.create({
    request: config,
    ...(init ? { origin: init.origin, prepare: init.prepare } : backbone ? { prepare: backbone.prepare } : {}),
    name: runName,
    dataset: {
      id: dataset.id,
      name: dataset.name,
      manifestHash: dataset.manifestHash,
      classes: dataset.classes,
      train: resolved.trainCount,
      val: resolved.valCount,
      ...(excluded ? { excluded } : {}),
    },
    resolved,
    progress: { epoch: 1, step: 0, totalSteps: resolved.totalSteps },
  });
}

/**
 * A request resolved against its dataset as a run of it would be (the time estimate reads it too): the dataset
 * described from its manifest, its exclusions, the backbone plan, and the frozen config with its counts.
 */
export async function resolveRequest(home: string, request: RunConfig) {
  // A dataset named by its name is stored by id, so resuming never depends on names.
  const asked: RunConfig = { ...request, data: { ...request.data, dataset: await resolveDatasetId(home, request.data.dataset) } };
  const dataset = await datasetSource(home, asked.data.dataset).describe();
  const excluded = hasExclusions(dataset.excluded) ? dataset.excluded : undefined;
  const available = { train: keptCount(dataset.counts.train, excluded?.train), val: keptCount(dataset.counts.val, excluded?.val) };
  const trainAvailable = asked.data.limitTrain > 0 ? Math.min(asked.data.limitTrain, available.train) : available.train;
  // `imagenet:NAME`: the backbone's architecture, and its fast or fine-tune recipe.
  const backbone = planBackbone(home, asked, trainAvailable);
  const config = backbone?.config ?? asked;
  // A fine-tune keeps its source's architecture: auto (null) is the source run's spec, as it trained it.
  const arch = config.net.arch ?? (config.initFrom ? (await new RunStore(home).get(config.initFrom)).resolved.config.net.arch : null);
  const resolved = resolveRun(
    { ...config, net: { arch } },
    available.train,
    available.val,
    backbone ? { recipe: backbone.recipe, raiseEpochs: backbone.raiseEpochs } : {},
  );
  return { config, dataset, excluded, backbone, resolved };
}
