import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.ts';
import { describeFsError } from '../common/fs-errors.ts';
import { injectedDiskFull } from '../common/test-faults.ts';
import { createLockFile, holderState, LOCK_STALE_MS, readLockFile, startHeartbeat, type LockInfo } from '../common/lock-file.ts';

/** Default cap on one upload's total size: a few hundred thousand photos, not a disk's worth. */
export const DEFAULT_UPLOAD_MAX_BYTES = 4 * 1024 ** 3;
/** Uploads open at once; a browser that forgets its uploads cannot fill the disk with half-written folders. */
export const MAX_OPEN_UPLOADS = 4;
/** An open upload that receives nothing for this long is dropped (a tab closed mid-upload, a lost network). */
export const DEFAULT_UPLOAD_IDLE_MS = 10 * 60_000;
const MAX_DEPTH = 8;
const OWNER_LOCK = 'owner.lock';

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
  /** Set by finish(): the folder now belongs to its import, and neither idling nor a closed connection drops it. */
  finished: boolean;
  lastActive: number;
}

export interface UploadStoreOptions {
  maxBytes?: number | undefined;
  idleMs?: number | undefined;
}

/**
 * A folder a browser sends file by file (kiln serve has no path to a folder on the person's
 * machine): chunks are written to files under `<home>/tmp/uploads/<owner>/<id>/`, capped in size, and the
 * folder is then imported like any other and removed. Nothing outside that folder can be written:
 * relative paths are checked segment by segment. Each process keeps its uploads in its own owner folder,
 * locked with a heartbeat, so a second Kiln on the same home sweeps only folders whose owner is gone.
 */
export class UploadStore {
  readonly root: string;
  readonly maxBytes: number;
  private readonly idleMs: number;
  /** Uploads from begin() until remove(): open ones and those being imported. */
  private readonly live = new Map<string, Upload>();
  private owner: Promise<{ dir: string; stopHeartbeat: () => Promise<void> }> | undefined;
  private ownerOp: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(home: string, opts: UploadStoreOptions | number = {}) {
    const o = typeof opts === 'number' ? { maxBytes: opts } : opts;
    this.root = path.join(path.resolve(home), 'tmp', 'uploads');
    this.maxBytes = o.maxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
    this.idleMs = o.idleMs ?? DEFAULT_UPLOAD_IDLE_MS;
  }

  /**
   * Remove what processes that are gone left behind (they stopped mid-upload or mid-import): owner folders
   * whose lock is dead, and lock-less folders (an older Kiln's, or one being set up) older than a heartbeat's
   * grace. Another live Kiln's uploads stay.
   */
  async sweep(): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const mine = this.owner ? (await this.owner).dir : null;
    for (const e of entries) {
      const dir = path.join(this.root, e.name);
      if (dir === mine) continue;
      const lock = await readLockFile(path.join(dir, OWNER_LOCK)).catch(() => null);
      const gone = lock
        ? holderState(lock) === 'dead'
        : Date.now() -
            (await fs.promises.lstat(dir).then(
              (s) => s.mtimeMs,
              () => 0,
            )) >
          LOCK_STALE_MS;
      if (gone) await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  async begin(files: number, bytes: number): Promise<{ uploadId: string; maxBytes: number }> {
    if (bytes > this.maxBytes) throw new UploadError(`upload of ${formatMiB(bytes)} is over the limit of ${formatMiB(this.maxBytes)}`);
    this.dropIdle();
    if (this.openCount() >= MAX_OPEN_UPLOADS)
      throw new UploadError(`${MAX_OPEN_UPLOADS} uploads are open already; finish or cancel one first`);
    const id = `upload-${crypto.randomBytes(8).toString('hex')}`;
    const up: Upload = {
      id,
      dir: '',
      declaredBytes: bytes,
      declaredFiles: files,
      bytes: 0,
      sizes: new Map(),
      queue: Promise.resolve(),
      finished: false,
      lastActive: Date.now(),
    };
    // Counted at once, so parallel begins cannot pass the cap between the check and the mkdir.
    this.live.set(id, up);
    try {
      up.dir = path.join(await this.ownerDir(), id);
      await fs.promises.mkdir(up.dir, { recursive: true });
    } catch (err) {
      await this.remove(id);
      throw describeFsError(err, 'the upload folder');
    }
    this.armIdleTimer();
    return { uploadId: id, maxBytes: this.maxBytes };
  }

  /** Write `data` to `relPath` at `offset` (which must be where that file ends now). */
  async write(uploadId: string, relPath: string, offset: number, data: Buffer): Promise<{ bytes: number }> {
    const up = this.get(uploadId);
    const rel = checkRelativePath(relPath);
    up.lastActive = Date.now();
    const run = async () => {
      if (!this.live.has(uploadId)) throw gone(uploadId);
      const have = up.sizes.get(rel);
      if (have === undefined && up.sizes.size >= up.declaredFiles)
        throw new UploadError(`upload ${uploadId}: more files than the ${up.declaredFiles} declared`);
      if ((have ?? 0) !== offset) throw new UploadError(`upload ${uploadId}: ${rel}: chunk at byte ${offset}, expected ${have ?? 0}`);
      if (up.bytes + data.length > up.declaredBytes)
        throw new UploadError(`upload ${uploadId}: more than the ${up.declaredBytes} bytes declared`);
      const file = path.join(up.dir, ...rel.split('/'));
      try {
        if (have === undefined) await fs.promises.mkdir(path.dirname(file), { recursive: true });
        // At the offset, into the file this upload made ('r+' does not create): a file removed under it is an error, not a fresh start.
        const handle = await fs.promises.open(file, have === undefined ? 'wx' : 'r+');
        try {
          injectedDiskFull('upload', file);
          await handle.write(data, 0, data.length, offset);
        } finally {
          await handle.close();
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          throw new UploadError(`upload ${uploadId}: ${rel}: the uploaded file was removed from the disk; start the upload again`);
        if (code === 'EEXIST') throw new UploadError(`upload ${uploadId}: ${rel} was sent twice`);
        throw describeFsError(err, `upload ${uploadId}: ${rel}`);
      }
      up.sizes.set(rel, offset + data.length);
      up.bytes += data.length;
      up.lastActive = Date.now();
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
    if (!this.live.has(uploadId)) throw gone(uploadId);
    up.finished = true;
    const entries = await fs.promises.readdir(up.dir, { withFileTypes: true });
    const single = entries.length === 1 && entries[0]!.isDirectory() ? entries[0]!.name : null;
    return { folder: single ? path.join(up.dir, single) : up.dir, name: single, files: up.sizes.size, bytes: up.bytes };
  }

  /** Forget an upload and delete what it wrote (cancelled, imported, or failed). */
  async remove(uploadId: string): Promise<void> {
    const up = this.live.get(uploadId);
    if (!up) return;
    this.live.delete(uploadId);
    await up.queue;
    if (up.dir) await fs.promises.rm(up.dir, { recursive: true, force: true });
    if (!this.live.size) await this.releaseOwner();
  }

  /** Drop uploads that are still being sent (a connection that began them closed); those being imported stay. */
  async abandon(uploadIds: Iterable<string>): Promise<string[]> {
    const dropped = [...uploadIds].filter((id) => this.live.get(id)?.finished === false);
    await Promise.all(dropped.map((id) => this.remove(id)));
    return dropped;
  }

  /** Stop the idle timer and the owner heartbeat (uploads still open are dropped). */
  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    await this.abandon([...this.live.keys()]);
    await this.releaseOwner();
  }

  private openCount(): number {
    let n = 0;
    for (const up of this.live.values()) if (!up.finished) n++;
    return n;
  }

  /** Open uploads that received nothing for idleMs go; returns their ids. */
  private dropIdle(): string[] {
    const now = Date.now();
    const idle = [...this.live.values()].filter((up) => !up.finished && now - up.lastActive > this.idleMs).map((up) => up.id);
    for (const id of idle) void this.remove(id).catch(() => undefined);
    return idle;
  }

  private armIdleTimer(): void {
    if (this.idleTimer) return;
    this.idleTimer = setInterval(
      () => {
        this.dropIdle();
        if (!this.openCount()) {
          clearInterval(this.idleTimer);
          this.idleTimer = undefined;
        }
      },
      Math.max(50, Math.min(this.idleMs / 2, 60_000)),
    );
    this.idleTimer.unref();
  }

  /** This process's folder under the root, made and locked on first use. */
  private ownerDir(): Promise<string> {
    const op = this.ownerOp.then(async () => {
      this.owner ??= (async () => {
        await fs.promises.mkdir(this.root, { recursive: true });
        const dir = await fs.promises.mkdtemp(path.join(this.root, `${process.pid}-`));
        const lock = path.join(dir, OWNER_LOCK);
        const info: LockInfo | null = await createLockFile(lock);
        if (!info) throw new Error(`${lock} exists already`);
        return { dir, stopHeartbeat: startHeartbeat(lock) };
      })();
      return (await this.owner).dir;
    });
    this.ownerOp = op.catch(() => undefined);
    return op;
  }

  private releaseOwner(): Promise<void> {
    const op = this.ownerOp.then(async () => {
      if (this.live.size || !this.owner) return;
      const owner = this.owner;
      this.owner = undefined;
      const { dir, stopHeartbeat } = await owner.catch(() => ({ dir: null, stopHeartbeat: async () => undefined }));
      await stopHeartbeat();
      if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
    });
    this.ownerOp = op.catch(() => undefined);
    return op;
  }

  private get(uploadId: string): Upload {
    const up = this.live.get(uploadId);
    if (!up || up.finished) throw gone(uploadId);
    return up;
  }
}

const gone = (uploadId: string) =>
  new UploadError(`no open upload "${uploadId}" (it was finished, cancelled, left idle, or the server restarted)`);

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
