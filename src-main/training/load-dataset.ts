import { hasExclusions, type DatasetExclusions, type LoadedDataset } from '../common/dataset-types.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { resolveDatasetRef } from '../datasets/dataset-lookup.ts';
import { datasetSource, isBuiltInDataset } from './dataset-source.ts';

/**
 * A dataset by id, built in or stored under the Kiln home, less the images in `excluded` (a run's snapshot of
 * the exclusion list, so it trains on the same images on resume). This reads every image: trainers and jobs
 * call it, never run creation (which describes the dataset instead, dataset-source.ts).
 */
export async function loadDataset(home: string, id: string, excluded?: DatasetExclusions): Promise<LoadedDataset> {
  return datasetSource(home, id).load(excluded);
}

/** The id of a dataset given by id or by name (what a person types); did-you-mean when neither. */
export async function resolveDatasetId(home: string, ref: string): Promise<string> {
  return isBuiltInDataset(ref) ? ref : resolveDatasetRef(new DatasetStore(home), ref);
}

/** The dataset as a new run would train on it now: less the images excluded so far (the LR finder reads this). */
export async function loadCurrentDataset(home: string, id: string): Promise<LoadedDataset> {
  return loadDataset(home, id, await currentExclusions(home, id));
}

/** The dataset's exclusion list as it is now: what a new run snapshots (undefined when it excludes nothing). */
export async function currentExclusions(home: string, id: string): Promise<DatasetExclusions | undefined> {
  const { excluded } = await datasetSource(home, id).describe();
  return hasExclusions(excluded) ? excluded : undefined;
}
