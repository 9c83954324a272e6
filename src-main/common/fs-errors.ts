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
