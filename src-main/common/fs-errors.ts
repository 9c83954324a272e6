import { DataError } from './errors.ts';

/** Turns low-level file-system failures into one line that says what happened and where. */
export function describeFsError(err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
      return new DataError(`disk full while writing ${what}`);
    case 'EDQUOT':
      return new DataError(`disk quota exceeded while writing ${what}`);
    case 'EACCES':
    case 'EPERM':
      return new DataError(`permission denied: ${what}`);
    case 'EROFS':
      return new DataError(`read-only file system: ${what}`);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

const FS_ERROR_WORDS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  EEXIST: 'it exists already',
  ENOENT: 'it is missing',
  ENOTDIR: 'a folder in its path is a file',
  EISDIR: 'it is a folder',
  EMFILE: 'too many files are open',
  ENFILE: 'too many files are open',
  EIO: 'the disk reported an input/output error',
  EBUSY: 'it is in use',
};

/** `runs/<id>/record.json` rather than the whole path; a temp file (`.record.json.ab12.tmp`) as the file it stands for. */
function shortPath(p: string): string {
  const parts = p.split(/[\\/]+/).filter(Boolean);
  const file = (parts.at(-1) ?? '').replace(/^\.(.+)\.[0-9a-f]+\.tmp$/, '$1');
  return [...parts.slice(-3, -1), file].join('/');
}

/**
 * A file-system error from the stores (Node's `ENOSPC: no space left on device, open '/home/…'`) in words, naming
 * the file by its last folders and not by its absolute path (a remote client need not learn the layout of this
 * disk); any other error unchanged.
 */
export function fsErrorInWords(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return err;
  const words = FS_ERROR_WORDS[e.code] ?? `the file system refused it (${e.code})`;
  const what = e.path ? ` (${shortPath(e.path)})` : '';
  const verb = /write|open|mkdir|rename|link|copy|append|symlink|truncate|utime/.test(e.syscall) ? 'could not save' : 'could not read';
  return Object.assign(new Error(`${verb} Kiln's data${what}: ${words}`), {
    name: e.code === 'ENOSPC' || e.code === 'EDQUOT' ? 'DiskFullError' : 'StoreError',
  });
}
