import fs from 'node:fs';

/** A file's text, or null when it does not exist (any other failure, such as a permission error, is thrown). */
export async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
