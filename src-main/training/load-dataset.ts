import type { LoadedDataset } from '../common/dataset-types.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { makeSyntheticDataset, SYNTHETIC_ID } from '../engine/data/synthetic.ts';

/** A dataset by id: the built-in `synthetic` one, or one from the store under the Kiln home. */
export async function loadDataset(home: string, id: string): Promise<LoadedDataset> {
  if (id === SYNTHETIC_ID) return makeSyntheticDataset();
  return new DatasetStore(home).load(id);
}
