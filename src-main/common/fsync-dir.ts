import fs from 'node:fs';

/**
 * fsync a folder, so a rename or a new entry in it survives a power loss (POSIX: the rename is in
 * the folder's data). Windows cannot open a folder for sync; there NTFS journals the rename itself.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
