import { buildGraph, type Graph } from '../engine/arch/graph.ts';
import { checkModelSize, describeTrainingMemory, memoryLimitBytes, trainingMemoryBytes } from '../engine/arch/model-size.ts';
import { SYNTHETIC_ID } from '../engine/data/synthetic.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';

const SYNTHETIC_IMAGE_SIZE = 32;

/** The network a run trains, from its record and its dataset's image size (no dataset is loaded). */
async function runGraph(home: string, record: RunRecord): Promise<{ graph: Graph; batchSize: number; backend: string }> {
  const { resolved } = record;
  const id = record.dataset.id;
  const imageSize = id === SYNTHETIC_ID ? SYNTHETIC_IMAGE_SIZE : (await new DatasetStore(home).get(id)).imageSize;
  const graph = buildGraph(resolved.config.net.arch, { imageSize, numClasses: record.dataset.classes.length });
  return { graph, batchSize: resolved.config.opt.batchSize, backend: record.backend?.name ?? resolved.config.backend };
}

/** Refuse to resume a run this machine cannot hold (ModelTooLargeError), before a trainer is started for it. */
export async function checkRunFits(home: string, record: RunRecord): Promise<void> {
  const { graph, batchSize, backend } = await runGraph(home, record);
  checkModelSize(graph, batchSize, `run ${record.id}`, backend);
}

/** "needs about 5.2 GiB (…); this machine has 6.0 GiB", for a trainer that died; null if it cannot be worked out. */
export async function describeRunMemory(home: string, record: RunRecord): Promise<string | null> {
  try {
    const { graph, batchSize, backend } = await runGraph(home, record);
    return `training it needs ${describeTrainingMemory(trainingMemoryBytes(graph, batchSize, backend))}; this machine has ${(memoryLimitBytes() / 2 ** 30).toPrecision(3)} GiB`;
  } catch {
    return null;
  }
}
