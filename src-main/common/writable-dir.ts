import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { DataError } from './errors.ts';

/** The reason, in words, that a folder cannot be written. */
function why(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    case 'EDQUOT':
      return 'the disk quota is used up';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    default:
      return 'not a writable folder';
  }
}

/**
 * Make sure `dir` is a folder this process can write, creating missing folders one level at a
 * time, before any work is done for it. (`mkdir -p` in Node loops forever under /proc; a plain
 * mkdir fails at once.) Errors say which path and why in words, e.g. "cannot write to
 * /proc/x: not a writable folder".
 */
export function ensureWritableDir(dir: string): string {
  const out = path.resolve(dir);
  const fail = (detail: string) => new DataError(`cannot write to ${out}: ${detail}`);
  const missing: string[] = [];
  let head = out;
  for (;;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(head);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a file somewhere above; walking up finds and names it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fail(why(err));
    }
    if (stat) {
      if (!stat.isDirectory()) throw fail(head === out ? 'it is a file, not a folder' : `${head} is a file, not a folder`);
      break;
    }
    const parent = path.dirname(head);
    if (parent === head) throw fail('not a writable folder');
    missing.push(head);
    head = parent;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(why(err));
    }
  }
  const probe = path.join(out, `.kiln-write-test-${crypto.randomBytes(4).toString('hex')}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
  } catch (err) {
    throw fail(why(err));
  }
  fs.rmSync(probe, { force: true });
  return out;
}
