import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * Lock files owned by a process: `{pid, hostname, startedAt}`, with the file's mtime as its
 * heartbeat. A lock is stale, and may be taken over, when its heartbeat is older than
 * LOCK_STALE_MS (on any host: a restarted container has a new hostname and reuses pids) or, on
 * this host, when its process is gone. A long holder (a trainer) keeps its heartbeat fresh with
 * `startHeartbeat`; nothing here waits on a holder to clean up.
 */
export const LOCK_STALE_MS = 60_000;
export const HEARTBEAT_MS = 5_000;
export interface LockInfo {
  pid: number;
  hostname: string;
  startedAt: string;
}

export interface LockReading {
  /** null when the file is not a lock we can read (damaged by a power loss): treated as stale. */
  info: LockInfo | null;
  raw: string;
  /** The last heartbeat (the file's mtime), ms since the epoch. */
  heartbeatMs: number;
}

/** 'other-host': a live heartbeat from a process on another host, which cannot be checked directly. */
export type HolderState = 'alive' | 'dead' | 'other-host';

function tmpName(file: string, tag: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${tag}-${crypto.randomBytes(6).toString('hex')}`);
}

/**
 * Create the lock, or return null if it exists. The content is written to a temp file and
 * hard-linked into place (link fails if the target exists, like O_EXCL), so a reader never
 * sees a lock that exists but is still empty.
 */
export async function createLockFile(file: string): Promise<LockInfo | null> {
  const info: LockInfo = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
  const tmp = tmpName(file, 'new');
  const handle = await fs.promises.open(tmp, 'wx');
  try {
    // No fsync: a lock means nothing after a reboot (holderState calls such locks dead).
    await handle.writeFile(JSON.stringify(info) + '\n');
  } finally {
    await handle.close();
  }
  try {
    await fs.promises.link(tmp, file);
    return info;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}

export async function readLockFile(file: string): Promise<LockReading | null> {
  let raw: string;
  let heartbeatMs: number;
  try {
    raw = await fs.promises.readFile(file, 'utf8');
    heartbeatMs = (await fs.promises.stat(file)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return { info: parseLockInfo(raw), raw, heartbeatMs };
}

function parseLockInfo(raw: string): LockInfo | null {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (Number.isInteger(v.pid) && (v.pid as number) > 0 && typeof v.hostname === 'string' && typeof v.startedAt === 'string') {
      return { pid: v.pid as number, hostname: v.hostname, startedAt: v.startedAt };
    }
  } catch {
    // fall through: unreadable means stale
  }
  return null;
}

/**
 * Whether the lock's holder still runs: its heartbeat is fresh and, on this host, its process is
 * there. A lock older than this boot is dead even if its pid has been reused since.
 */
export function holderState(reading: Pick<LockReading, 'info' | 'heartbeatMs'> | null): HolderState {
  const info = reading?.info;
  if (!info) return 'dead';
  if (Date.now() - reading.heartbeatMs > LOCK_STALE_MS) return 'dead';
  if (info.hostname !== os.hostname()) return 'other-host';
  const bootMs = Date.now() - os.uptime() * 1000;
  const started = Date.parse(info.startedAt);
  if (Number.isFinite(started) && started < bootMs - 60_000) return 'dead';
  return pidAlive(info.pid) ? 'alive' : 'dead';
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed child that its parent has not reaped yet still answers signal 0; on Linux, ask /proc.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no /proc (macOS, Windows) or the process just went: signal 0 said alive, keep that
  }
  return true;
}

/**
 * Remove a lock judged stale, but only if it is still the one that was judged: move it aside,
 * and if what was moved is a different (fresh) lock another process just created, put it back.
 */
export async function removeStaleLock(file: string, judgedRaw: string): Promise<void> {
  const aside = tmpName(file, 'stale');
  try {
    await fs.promises.rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await fs.promises.readFile(aside, 'utf8').catch(() => judgedRaw);
  if (moved !== judgedRaw) {
    await fs.promises.link(aside, file).catch(() => undefined);
  }
  await fs.promises.rm(aside, { force: true });
}

/** Remove the lock if it is still ours (a stale-lock takeover may have replaced it). */
export async function releaseLockFile(file: string, mine: LockInfo): Promise<void> {
  const current = await readLockFile(file);
  if (!current?.info) return;
  if (current.info.pid !== mine.pid || current.info.startedAt !== mine.startedAt || current.info.hostname !== mine.hostname) return;
  await removeStaleLock(file, current.raw);
}

/**
 * Refresh the lock's heartbeat every HEARTBEAT_MS until the returned function is called. It runs
 * on its own thread, so a long synchronous training step cannot make a live trainer look dead.
 */
export function startHeartbeat(file: string, intervalMs = HEARTBEAT_MS): () => Promise<void> {
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const fs = require('node:fs');
     setInterval(() => { const t = new Date(); try { fs.utimesSync(workerData.file, t, t); } catch {} }, workerData.ms);`,
    { eval: true, workerData: { file, ms: intervalMs } },
  );
  worker.unref();
  return async () => {
    await worker.terminate();
  };
}

/**
 * Take `file` as this process's lock, taking over one a dead process left; while a live process holds it, throws
 * `locked(holder)`. `heartbeat`: keep it fresh while held (for holders longer than LOCK_STALE_MS). Resolves with the
 * release, which is safe to call twice.
 */
export async function acquireLockFile(
  file: string,
  locked: (holder: LockInfo) => Error,
  opts: { heartbeat?: boolean } = {},
): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const mine = await createLockFile(file);
    if (mine) {
      const stopHeartbeat = opts.heartbeat ? startHeartbeat(file) : undefined;
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await stopHeartbeat?.();
        await releaseLockFile(file, mine);
      };
    }
    const held = await readLockFile(file);
    if (!held) continue;
    if (holderState(held) !== 'dead') throw locked(held.info!);
    await removeStaleLock(file, held.raw);
  }
  throw new Error(`could not take ${file}: it keeps changing`);
}
