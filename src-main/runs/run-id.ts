import { InvalidRunIdError } from './run-errors.ts';

/** A run id names a folder under <home>/runs, so it must stay a plain slug (no trailing '.': Windows drops it). */
const RUN_ID = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;

export function isValidRunId(id: unknown): id is string {
  return typeof id === 'string' && RUN_ID.test(id) && !id.includes('..');
}

export function validateRunId(id: unknown): string {
  if (isValidRunId(id)) return id;
  const shown = typeof id === 'string' ? JSON.stringify(id) : String(id);
  throw new InvalidRunIdError(
    `run id ${shown}: expected a run id like 20261129-021500-resnet-9-s-synthetic ` +
      `(letters, digits, '.', '_', '-', at most 128, starting and ending with a letter or digit; no '/' or '..')`,
  );
}

export function slugify(text: string, max = 40): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return slug || 'x';
}

/**
 * `YYYYMMDD-HHMMSS-<arch>-<dataset>` in UTC: ids sort by creation time and stay readable.
 * The store appends `-2`, `-3`… when two runs start in the same second.
 */
export function baseRunId(createdAt: Date, arch: string, dataset: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const d = createdAt;
  const stamp =
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  return `${stamp}-${slugify(arch)}-${slugify(dataset)}`;
}

/** A short name for a run's architecture: the preset id, or an inline spec's name or kind. */
export function archLabel(arch: string | { kind: string; name?: string }): string {
  return typeof arch === 'string' ? arch : arch.name || arch.kind;
}

/** A run's architecture in a few characters, from its frozen config: the preset it named, else its spec's name or kind. */
export function runArchLabel(record: {
  resolved: { presetId?: string | undefined; config: { net: { arch: { kind: string; name?: string | undefined } } } };
}): string {
  return archLabel(record.resolved.presetId ?? record.resolved.config.net.arch);
}
