import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.ts';

/** Default cap on one upload's total size: a few hundred thousand photos, not a disk's worth. */
export const DEFAULT_UPLOAD_MAX_BYTES = 4 * 1024 ** 3;
/** Uploads open at once; a browser that forgets its uploads cannot fill the disk with half-written folders. */
export const MAX_OPEN_UPLOADS = 4;
const MAX_DEPTH = 8;

export class UploadError extends Error {
  override name = 'UploadError';
}

interface Upload {
  id: string;
  dir: string;
  declaredBytes: number;
  declaredFiles: number;
  bytes: number;
  /** Bytes written so far per relative path: a chunk must continue its file where the last one ended. */
  sizes: Map<string, number>;
  /** Writes of one upload run one after another, so sizes and the cap stay exact. */
  queue: Promise<unknown>;
}

/**
 * A folder a browser sends file by file (kiln serve has no path to a folder on the person's
 * machine): chunks are appended to files under `<home>/tmp/uploads/<id>/`, capped in size, and the
 * folder is then imported like any other and removed. Nothing outside that folder can be written:
 * relative paths are checked segment by segment.
 */
export class UploadStore {
  readonly root: string;
  private readonly open = new Map<string, Upload>();

  constructor(
    home: string,
    readonly maxBytes = DEFAULT_UPLOAD_MAX_BYTES,
  ) {
    this.root = path.join(path.resolve(home), 'tmp', 'uploads');
  }

  /** Remove uploads a previous process left behind (it stopped mid-upload or mid-import). */
  async sweep(): Promise<void> {
    await fs.promises.rm(this.root, { recursive: true, force: true });
  }

  async begin(files: number, bytes: number): Promise<{ uploadId: string; maxBytes: number }> {
    if (bytes > this.maxBytes) throw new UploadError(`upload of ${formatMiB(bytes)} is over the limit of ${formatMiB(this.maxBytes)}`);
    if (this.open.size >= MAX_OPEN_UPLOADS) throw new UploadError(`${MAX_OPEN_UPLOADS} uploads are open already; finish or cancel one first`);
    const id = `upload-${crypto.randomBytes(8).toString('hex')}`;
    const dir = path.join(this.root, id);
    await fs.promises.mkdir(dir, { recursive: true });
    this.open.set(id, { id, dir, declaredBytes: bytes, declaredFiles: files, bytes: 0, sizes: new Map(), queue: Promise.resolve() });
    return { uploadId: id, maxBytes: this.maxBytes };
  }

  /** Append `data` to `relPath` at `offset` (which must be where that file ends now). */
  async write(uploadId: string, relPath: string, offset: number, data: Buffer): Promise<{ bytes: number }> {
    const up = this.get(uploadId);
    const rel = checkRelativePath(relPath);
    const run = async () => {
      const have = up.sizes.get(rel);
      if (have === undefined && up.sizes.size >= up.declaredFiles) throw new UploadError(`upload ${uploadId}: more files than the ${up.declaredFiles} declared`);
      if ((have ?? 0) !== offset) throw new UploadError(`upload ${uploadId}: ${rel}: chunk at byte ${offset}, expected ${have ?? 0}`);
      if (up.bytes + data.length > up.declaredBytes) throw new UploadError(`upload ${uploadId}: more than the ${up.declaredBytes} bytes declared`);
      const file = path.join(up.dir, ...rel.split('/'));
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await fs.promises.appendFile(file, data, { flag: have === undefined ? 'wx' : 'a' });
      up.sizes.set(rel, offset + data.length);
      up.bytes += data.length;
      return { bytes: up.bytes };
    };
    const result = up.queue.then(run);
    up.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * The folder to import once every chunk is in: the upload's one top folder when the browser sent
   * a folder (`shapes/reds/1.png`), else the upload root; and that folder's name for the dataset.
   */
  async finish(uploadId: string): Promise<{ folder: string; name: string | null; files: number; bytes: number }> {
    const up = this.get(uploadId);
    await up.queue;
    if (!up.sizes.size) throw new UploadError(`upload ${uploadId}: no files were sent`);
    this.open.delete(uploadId);
    const entries = await fs.promises.readdir(up.dir, { withFileTypes: true });
    const single = entries.length === 1 && entries[0]!.isDirectory() ? entries[0]!.name : null;
    return { folder: single ? path.join(up.dir, single) : up.dir, name: single, files: up.sizes.size, bytes: up.bytes };
  }

  /** Forget an upload and delete what it wrote (cancelled, imported, or failed). */
  async remove(uploadId: string): Promise<void> {
    const up = this.open.get(uploadId);
    this.open.delete(uploadId);
    if (up) await up.queue;
    if (!/^upload-[0-9a-f]{16}$/.test(uploadId)) return;
    await fs.promises.rm(path.join(this.root, uploadId), { recursive: true, force: true });
  }

  private get(uploadId: string): Upload {
    const up = this.open.get(uploadId);
    if (!up) throw new UploadError(`no open upload "${uploadId}" (it was finished, cancelled, or the server restarted)`);
    return up;
  }
}

/** `class/file.png` style paths only: no absolute paths, no `..`, no empty or dot segments. */
export function checkRelativePath(relPath: string): string {
  const parts = relPath.split('/');
  const bad = (why: string) => new UsageError(`upload path "${relPath}": ${why}`);
  if (parts.length > MAX_DEPTH) throw bad(`more than ${MAX_DEPTH} folders deep`);
  for (const p of parts) {
    if (!p || p === '.' || p === '..') throw bad('expected a relative path of names separated by /');
    if (/[\\\0:]/.test(p)) throw bad('names may not contain \\, : or NUL');
    if (Buffer.byteLength(p) > 255) throw bad('a name is longer than 255 bytes');
  }
  return parts.join('/');
}

function formatMiB(n: number): string {
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
