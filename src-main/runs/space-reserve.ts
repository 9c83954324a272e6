import fs from 'node:fs';
import path from 'node:path';

/**
 * Space kept aside under the runs folder so that a trainer that fills the disk (a checkpoint, the metrics) can
 * still write why its run stopped: run.json and its update lock need a few KiB, which a full disk no longer has.
 * Freed by the first run.json write that meets a full disk, made again by the next trainer that finds room.
 */
export const SPACE_RESERVE_BYTES = 1024 * 1024;

const reserveFile = (runsRoot: string) => path.join(runsRoot, '.space-reserve');

export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Makes the reserve if it is missing; quietly does nothing on a disk without room for it. */
export async function ensureSpaceReserve(runsRoot: string): Promise<void> {
  const file = reserveFile(runsRoot);
  if (fs.existsSync(file)) return;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    // Real bytes, not a sparse file: the blocks must be allocated now to be freed later.
    await fs.promises.writeFile(tmp, Buffer.alloc(SPACE_RESERVE_BYTES));
    await fs.promises.rename(tmp, file);
  } catch {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Frees the reserve; false when there was none to free. */
export async function releaseSpaceReserve(runsRoot: string): Promise<boolean> {
  try {
    await fs.promises.unlink(reserveFile(runsRoot));
    return true;
  } catch {
    return false;
  }
}
