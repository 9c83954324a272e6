import fs from 'node:fs';
import path from 'node:path';

/** A path the person gave that Kiln will not use; the message says which and why. */
export class PathNotAllowedError extends Error {
  override name = 'PathNotAllowedError';
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Resolve symlinks as far as the path exists, so a link cannot smuggle a path into the home. */
function realish(p: string): string {
  let head = path.resolve(p);
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return path.resolve(p);
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

/** A path the person chose to read from: absolute, existing, of the expected kind, and not inside the Kiln home. */
function checkSource(p: string, home: string, kind: 'folder' | 'file', expected: string, insideHint: string): string {
  if (!path.isAbsolute(p)) throw new PathNotAllowedError(`${kind} "${p}": expected an absolute path`);
  const resolved = path.resolve(p);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(resolved);
  } catch {
    throw new PathNotAllowedError(`${kind} "${p}": does not exist`);
  }
  if (kind === 'folder' ? !stat.isDirectory() : !stat.isFile())
    throw new PathNotAllowedError(`${kind} "${p}": is not a ${kind}${expected}`);
  if (isInside(realish(resolved), realish(home)))
    throw new PathNotAllowedError(`${kind} "${p}": is inside the Kiln home ${home}${insideHint}`);
  return resolved;
}

/**
 * A folder the person chose to import from: absolute, an existing directory, and not inside the
 * Kiln home (which holds Kiln's own data, never a source of images).
 */
export function checkImportFolder(folder: string, home: string): string {
  return checkSource(folder, home, 'folder', '', '; choose a folder of your own images');
}

/** A CIFAR-10 tarball already on disk, given to the download form: an absolute path to an existing file. */
export function checkTarballFile(file: string, home: string): string {
  return checkSource(file, home, 'file', ' (expected cifar-10-binary.tar.gz)', '');
}

/**
 * A folder the person chose to export into: absolute, and not inside the Kiln home except
 * under `<home>/exports/`, so an export can never overwrite runs, datasets or settings.
 */
export function checkExportDir(dir: string, home: string): string {
  if (!path.isAbsolute(dir)) throw new PathNotAllowedError(`export folder "${dir}": expected an absolute path`);
  const resolved = path.resolve(dir);
  const real = realish(resolved);
  const realHome = realish(home);
  if (isInside(real, realHome) && !isInside(real, path.join(realHome, 'exports'))) {
    throw new PathNotAllowedError(
      `export folder "${dir}": is inside the Kiln home ${home}; choose a folder outside it (or under ${path.join(home, 'exports')})`,
    );
  }
  if (fs.existsSync(resolved) && !fs.statSync(resolved).isDirectory())
    throw new PathNotAllowedError(`export folder "${dir}": exists and is not a folder`);
  return resolved;
}

/** What a remote client (`kiln serve --allow-remote`) may touch on the server's disk. */
export interface RemoteLimits {
  /** Folders given with --data-root: imports only from inside them. Empty: no folder imports at all. */
  dataRoots: string[];
}

/**
 * Remote mode: a folder to import must be inside one of the --data-root folders. Checked before anything
 * else looks at the path, so the answer says nothing about what exists outside the roots.
 */
export function checkRemoteImportFolder(folder: string, limits: RemoteLimits): void {
  if (!path.isAbsolute(folder)) throw new PathNotAllowedError(`folder "${folder}": expected an absolute path`);
  const real = realish(folder);
  if (limits.dataRoots.some((root) => isInside(real, realish(root)))) return;
  throw new PathNotAllowedError(
    limits.dataRoots.length
      ? `folder "${folder}": a remote Kiln imports only from under its --data-root folders (${limits.dataRoots.join(', ')})`
      : `folder "${folder}": a remote Kiln imports folders only from --data-root folders, and none was given (kiln serve --data-root DIR); upload the images instead`,
  );
}

/** Remote mode: exports go only under `<home>/exports/`; a relative name is taken from there. */
export function checkRemoteExportDir(dir: string, home: string): string {
  const exports = path.join(path.resolve(home), 'exports');
  const resolved = path.resolve(exports, dir);
  if (resolved === exports || !isInside(realish(resolved), realish(exports))) {
    throw new PathNotAllowedError(
      `export folder "${dir}": a remote Kiln exports only into folders under ${exports} (give a name, e.g. "my-model")`,
    );
  }
  return resolved;
}
