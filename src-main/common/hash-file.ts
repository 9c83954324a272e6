import fs from 'node:fs';
import crypto from 'node:crypto';

/** A file's digest (hex), streamed in 1 MB chunks. */
export async function hashFile(file: string, algorithm: string, signal?: AbortSignal): Promise<string> {
  const hash = crypto.createHash(algorithm);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
