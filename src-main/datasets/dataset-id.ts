import { UsageError } from '../common/errors.ts';
import { escapeUnsafeChars, hasUnsafeChars } from '../common/printable.ts';

/** The engine's built-in procedural dataset owns this id; the store never creates a folder for it. */
export const RESERVED_IDS = new Set(['synthetic']);

const ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Ids are folder names under <home>/datasets, so anything that could escape it ('..', '/') fails the slug rule. */
export function assertValidId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new UsageError(`invalid dataset id "${id}": expected a slug of lowercase letters, digits, "-" or "_" (at most 64 characters)`);
  }
}

export function assertValidName(name: string): void {
  const trimmed = name.trim();
  const shown = escapeUnsafeChars(name);
  if (trimmed === '' || trimmed.length > 100) throw new UsageError(`invalid dataset name "${shown}": expected 1 to 100 characters`);
  if (trimmed === '.' || trimmed === '..' || /[/\\]/.test(trimmed) || hasUnsafeChars(trimmed)) {
    throw new UsageError(
      `invalid dataset name "${shown}": it may not be "." or "..", or contain "/", "\\", control or invisible formatting characters (such as a right-to-left override)`,
    );
  }
}

/** Names may be any language; ids are ASCII slugs, so letters lose their accents and the rest become "-". */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 56)
    .replace(/-+$/, '');
  return slug || 'dataset';
}
