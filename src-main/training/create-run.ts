import { UsageError } from '../common/errors.ts';
import { planInitFrom } from './init-from-run.ts';
import { RunStore } from '../runs/run-store.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';
import { resolveRun } from './resolve-config.ts';
import type { RunConfig } from '../../src-shared/run-config.ts';
import { currentExclusions, loadDataset, resolveDatasetId } from './load-dataset.ts';
import { buildGraph } from '../engine/arch/graph.ts';
import { checkModelSize } from '../engine/arch/model-size.ts';
import { archLabel } from '../runs/run-id.ts';
import { pickRunName } from '../runs/run-names.ts';

/**
 * Check a config against its dataset and architecture, resolve it once and completely, and record a queued
 * run. Everything that can be wrong with the request fails here, in the caller's process, before a trainer
 * starts; from here on the run reads only what run.json stores (`resolved.config`, `arch`).
 */
export async function createRun(home: string, request: RunConfig, name?: string): Promise<RunRecord> {
  // A dataset named by its name is stored by id, so resuming never depends on names.
  const config: RunConfig = { ...request, data: { ...request.data, dataset: await resolveDatasetId(home, request.data.dataset) } };
  const excluded = await currentExclusions(home, config.data.dataset);
  const dataset = await loadDataset(home, config.data.dataset, excluded);
  const resolved = resolveRun(config, dataset.train.count, dataset.val.count);
  const spec = resolved.config.net.arch;
  const graph = buildGraph(spec, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
  checkModelSize(graph, resolved.batchSize);
  const { initFrom, opt } = resolved.config;
  if (opt.freezeEpochs > 0 && !initFrom) {
    throw new UsageError('opt.freezeEpochs: freezing the body only makes sense when starting from a past run (initFrom)');
  }
  if (opt.freezeEpochs > resolved.epochs) throw new UsageError(`opt.freezeEpochs: ${opt.freezeEpochs} frozen epochs in a run of ${resolved.epochs}`);
  const init = initFrom ? await planInitFrom(home, initFrom, { spec, graph, classes: dataset.classes }) : undefined;
  const store = new RunStore(home);
  const taken = (await store.list()).runs.map((r) => r.name);
  const runName = pickRunName(taken, name, dataset.name, archLabel(config.net.arch));
  return store.create({
    config,
    arch: spec,
    ...(init ? { origin: init.origin, prepare: init.prepare } : {}),
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
    resolved: { ...resolved },
    progress: { epoch: 1, step: 0, totalSteps: resolved.totalSteps },
  });
}
