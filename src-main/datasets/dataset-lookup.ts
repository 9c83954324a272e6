import { DatasetNotFoundError } from '../common/errors.ts';
import { closest } from '../common/did-you-mean.ts';
import type { DatasetStore } from './dataset-store.ts';
import { RESERVED_IDS, slugify } from './dataset-id.ts';

const ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * The id of the dataset a person named: its id, or the name shown everywhere (`hymenoptera_data` for the id
 * `hymenoptera-data`), in any case. Neither: DatasetNotFoundError with the closest id or name to try.
 */
export async function resolveDatasetRef(store: DatasetStore, ref: string): Promise<string> {
  if (RESERVED_IDS.has(ref)) return ref;
  if (ID_RE.test(ref) && (await store.has(ref))) return ref;
  const all = await store.list();
  const want = ref.trim().toLowerCase();
  const byName = all.filter((m) => m.name.trim().toLowerCase() === want);
  if (byName.length === 1) return byName[0]!.id;
  const byId = all.filter((m) => m.id === want);
  if (byId.length === 1) return byId[0]!.id;
  if (byName.length === 0) {
    const bySlug = all.filter((m) => m.id === slugify(ref));
    if (bySlug.length === 1) return bySlug[0]!.id;
  }
  if (byName.length > 1) {
    throw new DatasetNotFoundError(`dataset name "${ref}" is ambiguous: ${byName.map((m) => m.id).join(', ')} have it; give the id`);
  }
  const candidates = [...RESERVED_IDS, ...all.flatMap((m) => [m.id, m.name])];
  const guess = closest(ref, candidates);
  const id = guess === undefined ? undefined : (all.find((m) => m.id === guess || m.name === guess)?.id ?? guess);
  throw new DatasetNotFoundError(`no dataset "${ref}" in ${store.root}${id ? `; did you mean ${id}?` : ''}`);
}
