import { withoutExcluded, type DatasetExclusions, type LoadedDataset } from '../common/dataset-types.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { resolveDatasetRef } from '../datasets/dataset-lookup.ts';
import { makeSyntheticDataset, SYNTHETIC_ID } from '../engine/data/synthetic.ts';

/**
 * A dataset by id: the built-in `synthetic` one, or one from the store under the Kiln home, less the
 * images in `excluded` (a run's snapshot of the exclusion list, so it trains on the same images on resume).
 */
export async function loadDataset(home: string, id: string, excluded?: DatasetExclusions): Promise<LoadedDataset> {
  if (id === SYNTHETIC_ID) return makeSyntheticDataset();
  return withoutExcluded(await new DatasetStore(home).load(id), excluded);
}

/** The id of a dataset given by id or by name (what a person types); did-you-mean when neither. */
export async function resolveDatasetId(home: string, ref: string): Promise<string> {
  return ref === SYNTHETIC_ID ? ref : resolveDatasetRef(new DatasetStore(home), ref);
}

/** The dataset as a new run would train on it now: less the images excluded so far (the LR finder reads this). */
export async function loadCurrentDataset(home: string, id: string): Promise<LoadedDataset> {
  return loadDataset(home, id, await currentExclusions(home, id));
}

/** The dataset's exclusion list as it is now: what a new run snapshots. */
export async function currentExclusions(home: string, id: string): Promise<DatasetExclusions | undefined> {
  if (id === SYNTHETIC_ID) return undefined;
  const ex = await new DatasetStore(home).excluded(id);
  return ex.train.length || ex.val.length ? ex : undefined;
}
