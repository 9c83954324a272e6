import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fsyncDir } from './fsync-dir.ts';
import { injectedDiskFull } from './test-faults.ts';

/**
 * Write through a temp file in the same folder, fsync it, rename it over the target and fsync the
 * folder: readers see the old or the new file, never half of one, and after a power loss the
 * rename is either wholly there or not. A failed write (a full disk) removes the temp file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      injectedDiskFull('atomic-write', tmp);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
