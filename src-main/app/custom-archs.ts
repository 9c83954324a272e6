import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import { UsageError } from '../common/errors.ts';
import { hasUnsafeChars } from '../common/printable.ts';
import { ArchSpecSchema, type ArchSpec } from '../../src-shared/arch-spec.ts';

export interface CustomArch {
  name: string;
  spec: ArchSpec;
}

/** A name becomes a file name: letters and digits kept, the rest folded to '-'. */
export function archFileStem(name: string): string {
  const trimmed = name.trim();
  // Cf: bidirectional overrides (U+202E) and other invisible characters that make two names look alike.
  if (!trimmed || trimmed.length > 80 || hasUnsafeChars(trimmed)) {
    throw new UsageError(`architecture name ${JSON.stringify(name)}: expected 1–80 printable characters`);
  }
  const stem = trimmed
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  if (!stem) throw new UsageError(`architecture name ${JSON.stringify(name)}: needs at least one letter or digit`);
  return stem;
}

/** Saved architectures, one JSON file each under `<home>/archs/`. */
export class CustomArchStore {
  readonly dir: string;

  constructor(home: string) {
    this.dir = path.join(path.resolve(home), 'archs');
  }

  async list(): Promise<CustomArch[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: CustomArch[] = [];
    for (const file of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
      try {
        const raw = JSON.parse(await fs.promises.readFile(path.join(this.dir, file), 'utf8')) as { name?: unknown; spec?: unknown };
        const spec = ArchSpecSchema.safeParse(raw.spec);
        if (typeof raw.name === 'string' && spec.success) out.push({ name: raw.name, spec: spec.data });
      } catch {
        // A damaged file is skipped, not fatal: the others still list.
      }
    }
    return out;
  }

  async save(name: string, spec: ArchSpec): Promise<void> {
    const parsed = ArchSpecSchema.parse(spec);
    const file = this.fileOf(name);
    // Names that fold to the same file ("../../evil" and "evil") must not overwrite each other.
    const existing = await this.storedName(file);
    if (existing !== null && existing !== name.trim()) {
      throw new UsageError(
        `architecture name ${JSON.stringify(name.trim())} is too close to the saved architecture ${JSON.stringify(existing)}; choose another name or remove that one`,
      );
    }
    await fs.promises.mkdir(this.dir, { recursive: true });
    await writeJsonAtomic(file, { name: name.trim(), spec: { ...parsed, name: name.trim() } });
  }

  /** The file a name is saved in: names that fold to the same stem share it. */
  private fileOf(name: string): string {
    return path.join(this.dir, `${archFileStem(name)}.json`);
  }

  private async storedName(file: string): Promise<string | null> {
    try {
      const raw = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { name?: unknown };
      return typeof raw.name === 'string' ? raw.name : '';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return ''; // damaged: a different name, not to be overwritten silently
    }
  }

  async remove(name: string): Promise<void> {
    const file = this.fileOf(name);
    const existing = await this.storedName(file);
    if (existing !== null && existing !== '' && existing !== name.trim())
      throw new UsageError(`no saved architecture named ${JSON.stringify(name)}`);
    try {
      await fs.promises.rm(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no saved architecture named ${JSON.stringify(name)}`);
      throw err;
    }
  }
}
