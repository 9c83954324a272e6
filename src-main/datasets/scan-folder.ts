import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.ts';
import { escapeUnsafeChars } from '../common/printable.ts';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.bmp', '.dib', '.tif', '.tiff']);
const VAL_DIR_NAMES = ['val', 'valid', 'validation', 'test'];

export type Layout = 'class-folders' | 'split-folders';

export interface ScannedFile {
  /** Relative to the imported folder, with "/" separators, for reports. */
  rel: string;
  abs: string;
  classIndex: number;
  /** Fixed by the folder layout, or null where the import draws the validation split. */
  split: 'train' | 'val' | null;
}

export interface ScanResult {
  layout: Layout;
  /** Whether the layout supplies the validation split (else the import draws one). */
  hasValFolder: boolean;
  classes: string[];
  files: ScannedFile[];
  /** Files that were images by name but could not be reached (broken links, permission). */
  unreadable: { path: string; reason: string }[];
  warnings: string[];
}

const isHidden = (name: string) => name.startsWith('.');
const isImageName = (name: string) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());

interface Entry {
  name: string;
  abs: string;
  kind: 'dir' | 'file' | 'broken';
  reason?: string;
}

/** Where a scan may go: real paths of the only folders (with their sub-folders) entries may resolve into. */
export interface ScanLimits {
  within?: string[];
}

const inside = (real: string, roots: string[]) => roots.some((r) => real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep));

/**
 * Lists a folder, following symbolic links; a link that cannot be followed (dangling, a loop), or, with
 * `within`, one whose real path leaves those folders, is reported as broken.
 */
async function listDir(dir: string, within?: string[]): Promise<Entry[]> {
  const dirents = await fs.promises.readdir(dir, { withFileTypes: true });
  const out: Entry[] = [];
  for (const d of dirents) {
    if (isHidden(d.name)) continue;
    const abs = path.join(dir, d.name);
    let kind: Entry['kind'];
    let reason: string | undefined;
    if (d.isSymbolicLink()) {
      try {
        const st = await fs.promises.stat(abs);
        kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'broken';
        if (kind === 'broken') reason = 'not a regular file';
        else if (within && !inside(await fs.promises.realpath(abs), within)) {
          kind = 'broken';
          reason = 'a symbolic link to outside the data root';
        }
      } catch (err) {
        kind = 'broken';
        const code = (err as NodeJS.ErrnoException).code;
        reason = code === 'ELOOP' ? 'symbolic link loop' : code === 'ENOENT' ? 'broken symbolic link' : `unreadable: ${code}`;
      }
    } else if (d.isDirectory()) kind = 'dir';
    else if (d.isFile()) kind = 'file';
    else continue;
    out.push({ name: d.name.normalize('NFC'), abs, kind, reason });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every image file under `dir` (recursively); a directory reached twice through links is walked once, so loops end. */
async function collectImages(
  dir: string,
  rel: string,
  visited: Set<string>,
  out: { rel: string; abs: string }[],
  unreadable: ScanResult['unreadable'],
  warnings: string[],
  within?: string[],
): Promise<void> {
  let real: string;
  try {
    real = await fs.promises.realpath(dir);
  } catch (err) {
    unreadable.push({ path: rel, reason: `unreadable folder: ${(err as NodeJS.ErrnoException).code}` });
    return;
  }
  if (visited.has(real)) {
    warnings.push(`folder "${rel}" was skipped: it leads (through a symbolic link) to a folder already included`);
    return;
  }
  visited.add(real);
  let entries: Entry[];
  try {
    entries = await listDir(dir, within);
  } catch (err) {
    unreadable.push({ path: rel, reason: `unreadable folder: ${(err as NodeJS.ErrnoException).code}` });
    return;
  }
  for (const e of entries) {
    const r = `${rel}/${e.name}`;
    if (e.kind === 'dir') await collectImages(e.abs, r, visited, out, unreadable, warnings, within);
    else if (e.reason && e.kind === 'broken' && within && !isImageName(e.name)) unreadable.push({ path: r, reason: e.reason });
    else if (!isImageName(e.name)) continue;
    else if (e.kind === 'file') out.push({ rel: r, abs: e.abs });
    else unreadable.push({ path: r, reason: e.reason ?? 'unreadable' });
  }
}

export async function scanFolder(folder: string, limits: ScanLimits = {}): Promise<ScanResult> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(folder);
  } catch {
    throw new UsageError(`folder "${folder}" does not exist`);
  }
  if (!st.isDirectory()) throw new UsageError(`"${folder}" is not a folder`);
  const within = limits.within && (await Promise.all(limits.within.map((r) => fs.promises.realpath(r).catch(() => path.resolve(r)))));
  if (within && !inside(await fs.promises.realpath(folder), within)) throw new UsageError(`folder "${folder}" is outside the data root`);
  const top = await listDir(folder, within);
  const dirs = top.filter((e) => e.kind === 'dir');
  const warnings: string[] = [];
  const unreadable: ScanResult['unreadable'] = [];
  // Shared by the whole walk: a folder reached twice (a link loop, or two links to one place) counts once.
  const visited = new Set<string>([await fs.promises.realpath(folder)]);
  const looseImages = top.filter((e) => e.kind !== 'dir' && isImageName(e.name)).length;

  const lower = new Map(dirs.map((d) => [d.name.toLowerCase(), d]));
  const trainDir = lower.get('train');
  const allSplitNames =
    dirs.length > 0 && dirs.every((d) => d.name.toLowerCase() === 'train' || VAL_DIR_NAMES.includes(d.name.toLowerCase()));
  const layout: Layout = trainDir && allSplitNames ? 'split-folders' : 'class-folders';

  // Class name → files per split; a Map keeps first-seen order but classes are sorted at the end.
  const byClass = new Map<string, { rel: string; abs: string; split: 'train' | 'val' | null }[]>();
  const addClassDir = async (dir: Entry, relBase: string, split: 'train' | 'val' | null) => {
    const found: { rel: string; abs: string }[] = [];
    await collectImages(dir.abs, `${relBase}${dir.name}`, visited, found, unreadable, warnings, within);
    // A folder name with a terminal escape or a bidi override would act wherever the class is printed: written out instead.
    const name = escapeUnsafeChars(dir.name);
    const list = byClass.get(name) ?? [];
    for (const f of found) list.push({ ...f, split });
    byClass.set(name, list);
  };

  let hasValFolder = false;
  if (layout === 'split-folders') {
    const valName = VAL_DIR_NAMES.find((n) => lower.has(n));
    const valDir = valName ? lower.get(valName) : undefined;
    hasValFolder = valDir !== undefined;
    for (const d of dirs) {
      if (d !== trainDir && d !== valDir) warnings.push(`folder "${d.name}" was ignored: "${valDir!.name}" is the validation split`);
    }
    for (const [splitDir, split] of [
      [trainDir!, 'train'],
      [valDir, 'val'],
    ] as const) {
      if (!splitDir) continue;
      visited.add(await fs.promises.realpath(splitDir.abs));
      for (const c of await listDir(splitDir.abs, within)) {
        if (c.kind === 'dir') await addClassDir(c, `${splitDir.name}/`, hasValFolder ? split : null);
        else if (isImageName(c.name)) warnings.push(`"${splitDir.name}/${c.name}" is not inside a class folder and was ignored`);
      }
    }
  } else {
    for (const d of dirs) await addClassDir(d, '', null);
  }
  if (looseImages > 0) warnings.push(`${looseImages} image(s) directly in the folder are not inside a class folder and were ignored`);
  for (const e of top)
    if (e.kind === 'broken' && (isImageName(e.name) || (within && e.reason)))
      unreadable.push({ path: e.name, reason: e.reason ?? 'unreadable' });

  const classes = [...byClass.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: ScannedFile[] = [];
  classes.forEach((c, classIndex) => {
    for (const f of byClass.get(c)!) files.push({ rel: f.rel, abs: f.abs, classIndex, split: f.split });
  });
  return { layout, hasValFolder, classes, files, unreadable, warnings };
}
