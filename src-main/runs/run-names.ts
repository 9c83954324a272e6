import { UsageError } from '../common/errors.ts';

/** A typed run name that another run already has: names are how people tell runs apart in every view. */
export class RunNameTakenError extends UsageError {
  override name = 'RunNameTakenError';
}

/**
 * The name a new run gets: the one typed, refused when another run has it; else `dataset · arch · n` with the
 * first n no run of that dataset and architecture has taken yet.
 */
export function pickRunName(taken: Iterable<string>, typed: string | undefined, dataset: string, arch: string): string {
  const names = new Set([...taken].map((n) => n.toLowerCase()));
  const wanted = typed?.trim();
  if (wanted) {
    assertRunNameFree(names, wanted, `type another name, or leave it empty for one like "${dataset} · ${arch} · 2"`);
    return wanted;
  }
  for (let n = 1; ; n++) {
    const name = `${dataset} · ${arch} · ${n}`;
    if (!names.has(name.toLowerCase())) return name;
  }
}

/** Refuses `wanted` when a run in `taken` has it, whatever its case: on creation and on rename alike. */
export function assertRunNameFree(taken: Iterable<string>, wanted: string, advice = 'type another name'): void {
  const lower = wanted.toLowerCase();
  for (const name of taken)
    if (name.toLowerCase() === lower) throw new RunNameTakenError(`a run named "${wanted}" already exists: ${advice}`);
}
