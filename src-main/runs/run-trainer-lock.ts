import { acquireLockFile, holderState, readLockFile, removeStaleLock, type LockInfo } from './lock-file.ts';
import { BrokenRunError } from './run-errors.ts';
import type { RunFiles } from './run-files.ts';
import { recoverOne } from './run-recovery.ts';

export type Release = () => Promise<void>;

/**
 * Take the run for training: `<run>/trainer.lock` holds {pid, hostname, startedAt}. Throws
 * RunLockedError while another live process holds it; a lock left by a dead process is taken
 * over. Take the lock before setting the status to 'running'.
 */
export async function acquireTrainerLock(files: RunFiles, id: string, opts: { heartbeat?: boolean } = {}): Promise<Release> {
  await files.get(id);
  return acquireLockFile(files.lockFile(id), (holder) => files.lockedError(id, holder, ''), opts);
}

/**
 * The manual override (`kiln runs unlock`): remove the run's trainer and update locks even if a
 * host that cannot be checked from here still refreshes them, then recover the run (running
 * becomes interrupted). Refused while a trainer on this host is alive: pause or stop that instead.
 */
export async function unlockRun(files: RunFiles, id: string): Promise<{ removed: LockInfo[] }> {
  await files.get(id).catch((err) => {
    if (!(err instanceof BrokenRunError)) throw err;
  });
  const removed: LockInfo[] = [];
  for (const file of [files.lockFile(id), files.updateLockFile(id)]) {
    const held = await readLockFile(file);
    if (!held) continue;
    if (holderState(held) === 'alive') throw files.lockedError(id, held.info!, '; it is alive on this host: pause or stop it instead');
    await removeStaleLock(file, held.raw);
    if (held.info) removed.push(held.info);
  }
  await recoverOne(files, id).catch((err) => {
    if (!(err instanceof BrokenRunError)) throw err;
  });
  return { removed };
}

/** Who holds the run's trainer lock, and whether that process still runs; null when unlocked. */
export async function trainerLockHolder(files: RunFiles, id: string): Promise<(LockInfo & { alive: boolean; heartbeatAt: string }) | null> {
  const held = await readLockFile(files.lockFile(id));
  if (!held?.info) return null;
  return { ...held.info, alive: holderState(held) !== 'dead', heartbeatAt: new Date(held.heartbeatMs).toISOString() };
}
