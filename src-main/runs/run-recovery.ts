import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import { holderState, readLockFile, removeStaleLock } from './lock-file.ts';
import { BrokenRunError } from './run-errors.ts';
import { TRAINER_LOCK, TRASH_PREFIX, type RunFiles } from './run-files.ts';

/** What writeFileAtomic leaves behind when killed between creating its temp file and renaming it. */
const ATOMIC_TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;
/** Temp files of lock-file creation and takeover (lock-file.ts), left if killed half-way. */
const LOCK_TEMP = /^\.(trainer|update)\.lock\.(new|stale)-[0-9a-f]{12}$/;
/** Lock temp files are made outside the update lock; only ones this old are surely abandoned. */
const LOCK_TEMP_MAX_AGE_MS = 60_000;

/**
 * Crash recovery, for the start of the app, the CLI and the server: a run marked running (or
 * queued with a trainer lock) whose trainer is gone becomes 'interrupted', and can be resumed
 * from its last checkpoint. Also clears stale locks and the leftovers of writes and deletes
 * that were killed half-way. Returns the ids it marked interrupted.
 */
export async function recoverInterrupted(files: RunFiles): Promise<string[]> {
  const recovered: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(files.root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return recovered;
    throw err;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    if (entry.name.startsWith(TRASH_PREFIX)) {
      await fs.promises.rm(path.join(files.root, entry.name), { recursive: true, force: true });
      continue;
    }
    if (entry.name.startsWith('.')) continue;
    try {
      if (await recoverOne(files, entry.name)) recovered.push(entry.name);
    } catch (err) {
      // One broken run must not stop the recovery of the others; list() reports it.
      if (!(err instanceof BrokenRunError || (err as Error).name === 'InvalidRunIdError')) throw err;
    }
  }
  return recovered;
}

/** Recover one run (see recoverInterrupted); true when it was marked interrupted. */
export async function recoverOne(files: RunFiles, id: string): Promise<boolean> {
  // Most runs need nothing; look before taking the update lock, so listing a read-only home works.
  const names = await fs.promises.readdir(files.runDir(id));
  const suspect =
    names.includes(TRAINER_LOCK) ||
    names.some((n) => ATOMIC_TEMP.test(n) || LOCK_TEMP.test(n)) ||
    (await files.get(id)).status === 'running';
  if (!suspect) return false;
  return files.withUpdateLock(id, async () => {
    const dir = files.runDir(id);
    // Holding the update lock, no atomic write of this run is in flight: any temp file is a leftover.
    for (const name of await fs.promises.readdir(dir)) {
      const file = path.join(dir, name);
      if (ATOMIC_TEMP.test(name)) await fs.promises.rm(file, { force: true });
      else if (LOCK_TEMP.test(name)) {
        const age = Date.now() - (await fs.promises.stat(file).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
        if (age > LOCK_TEMP_MAX_AGE_MS) await fs.promises.rm(file, { force: true });
      }
    }
    const record = await files.get(id);
    const lock = await readLockFile(files.lockFile(id));
    const state = lock ? holderState(lock) : null;
    if (state === 'alive' || state === 'other-host') return false;
    const interrupted = record.status === 'running' || (record.status === 'queued' && lock !== null);
    if (interrupted) {
      const next = files.validate({ ...record, status: 'interrupted' }, id);
      await writeJsonAtomic(files.runFile(id), next);
    }
    if (lock) await removeStaleLock(files.lockFile(id), lock.raw);
    return interrupted;
  });
}
