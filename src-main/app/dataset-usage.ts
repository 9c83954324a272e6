import { UsageError } from '../common/errors.ts';
import type { DatasetStore } from '../datasets/dataset-store.ts';
import type { RunStore } from '../runs/run-store.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';
import { isBuiltInDataset } from '../training/dataset-source.ts';

/** What a run cannot do without the dataset it trained on (its metrics and checkpoints stay). */
export const NEEDS_DATASET = 'mistake images, evaluation, "try a picture" and resume';

export class DatasetInUseError extends UsageError {
  override name = 'DatasetInUseError';
}

/** The runs trained on a dataset, newest first. */
export async function runsUsingDataset(runs: RunStore, datasetId: string): Promise<Pick<RunRecord, 'id' | 'name' | 'status'>[]> {
  const { runs: all } = await runs.list();
  return all.filter((r) => r.dataset.id === datasetId).map((r) => ({ id: r.id, name: r.name, status: r.status }));
}

/** Refuse to delete a dataset that runs used, naming them, unless the person confirmed (force). */
export async function assertDatasetUnused(runs: RunStore, datasetId: string, how: string): Promise<void> {
  const users = await runsUsingDataset(runs, datasetId);
  if (!users.length) return;
  const names =
    users
      .slice(0, 10)
      .map((r) => `"${r.name}"`)
      .join(', ') + (users.length > 10 ? ` and ${users.length - 10} more` : '');
  throw new DatasetInUseError(
    `dataset "${datasetId}" was used by ${users.length} run${users.length === 1 ? '' : 's'}: ${names}. ` +
      `Deleting it keeps their metrics and checkpoints, but their ${NEEDS_DATASET} will be unavailable; ${how}`,
  );
}

/** For a run whose dataset is gone: say so plainly instead of "no such dataset". */
export async function assertRunDataset(datasets: DatasetStore, record: RunRecord, what: string): Promise<void> {
  if (isBuiltInDataset(record.dataset.id) || (await datasets.has(record.dataset.id))) return;
  throw new UsageError(
    `run "${record.name}" was trained on dataset "${record.dataset.name}" (${record.dataset.id}), which has been deleted: ` +
      `its metrics and checkpoints remain, but ${what} needs the dataset (import it again under the same id to restore it)`,
  );
}
