import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { writeFileAtomic, writeJsonAtomic } from '../common/atomic-write.ts';
import { formatZodError } from '../../src-shared/zod-error.ts';
import { parseRunConfig, type RunConfig } from '../../src-shared/run-config.ts';
import { currentHost, currentVersions } from './host-info.ts';
import { createLockFile, holderState, readLockFile, releaseLockFile, removeStaleLock, startHeartbeat, type LockInfo } from './lock-file.ts';
import { keepUpToStep, MetricsAppender, readMetricsFile, serializeMetricLines } from './metrics-log.ts';
import { BrokenRunError, RunLockedError, RunNotFoundError } from './run-errors.ts';
import { archLabel, baseRunId, validateRunId } from './run-id.ts';
import {
  RUN_FORMAT,
  RunRecordSchema,
  type MetricLine,
  type ResolvedRecipe,
  type RunDataset,
  type RunMetrics,
  type RunPatch,
  type RunRecord,
  type RunStatus,
} from '../../src-shared/run-types.ts';
import { migrateRunRecord } from './run-migrate.ts';

export interface RunInit {
  config: RunConfig;
  /** The architecture spec (any JSON). */
  arch: unknown;
  dataset: RunDataset;
  name?: string;
  /** Default: 'queued'. */
  status?: RunStatus;
  resolved?: ResolvedRecipe;
  backend?: RunRecord['backend'];
  /** Default: config.seed. */
  seed?: number;
  progress?: RunRecord['progress'];
  /** Default: now. */
  createdAt?: Date;
  /** A fine-tuned run's source. */
  origin?: RunRecord['origin'];
  /** Writes what the run needs into its folder before run.json makes it visible (a fine-tune's starting weights). */
  prepare?: (runDir: string) => Promise<void>;
}

export interface BrokenRun {
  id: string;
  dir: string;
  error: string;
}

export interface RunListing {
  /** Newest first. */
  runs: RunRecord[];
  /** Folders under runs/ that could not be read as runs; listed so they can be reported, not hidden. */
  broken: BrokenRun[];
}

export type Release = () => Promise<void>;

const RUN_FILE = 'run.json';
const METRICS_FILE = 'metrics.jsonl';
const TRAINER_LOCK = 'trainer.lock';
/** Held for the few milliseconds of a run.json read-modify-write, across processes. */
const UPDATE_LOCK = '.update.lock';
const UPDATE_LOCK_WAIT_MS = 10_000;
/** What writeFileAtomic leaves behind when killed between creating its temp file and renaming it. */
const ATOMIC_TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;
const TRASH_PREFIX = '.trash-';

/** Temp files of lock-file creation and takeover (lock-file.ts), left if killed half-way. */
const LOCK_TEMP = /^\.(trainer|update)\.lock\.(new|stale)-[0-9a-f]{12}$/;
/** Lock temp files are made outside the update lock; only ones this old are surely abandoned. */
const LOCK_TEMP_MAX_AGE_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** create() makes the folder a moment before run.json: a fresh folder without one is not broken yet. */
async function beingCreated(dir: string): Promise<boolean> {
  if (fs.existsSync(path.join(dir, RUN_FILE))) return false;
  try {
    return Date.now() - (await fs.promises.stat(dir)).mtimeMs < 10_000;
  } catch {
    return false;
  }
}

/**
 * The runs under a Kiln home, one folder each: `<home>/runs/<id>/` with run.json, metrics.jsonl,
 * checkpoints/ and eval/. Safe to use from several processes at once (the app, the CLI, trainers):
 * run.json changes are atomic and serialised per run, metrics are appended whole, and a run is
 * trained by at most one process (acquireLock).
 */
export class RunStore {
  readonly home: string;
  readonly root: string;
  private readonly appenders = new Map<string, MetricsAppender>();
  /** Per-run chain of this process's run.json writes, so they queue here instead of polling the file lock. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(home: string) {
    this.home = path.resolve(home);
    this.root = path.join(this.home, 'runs');
  }

  runDir(id: string): string {
    return path.join(this.root, validateRunId(id));
  }
  runFile(id: string): string {
    return path.join(this.runDir(id), RUN_FILE);
  }
  metricsFile(id: string): string {
    return path.join(this.runDir(id), METRICS_FILE);
  }
  checkpointDir(id: string): string {
    return path.join(this.runDir(id), 'checkpoints');
  }
  evalDir(id: string): string {
    return path.join(this.runDir(id), 'eval');
  }
  lockFile(id: string): string {
    return path.join(this.runDir(id), TRAINER_LOCK);
  }

  async create(init: RunInit): Promise<RunRecord> {
    const config = parseRunConfig(init.config, 'run config');
    const createdAt = init.createdAt ?? new Date();
    const base = baseRunId(createdAt, archLabel(config.net.arch), init.dataset.id);
    await fs.promises.mkdir(this.root, { recursive: true });
    // mkdir without `recursive` fails if the folder exists: that claims the id even against another process.
    let id = base;
    for (let n = 2; ; n++) {
      try {
        await fs.promises.mkdir(path.join(this.root, id));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        id = `${base}-${n}`;
      }
    }
    const record: RunRecord = {
      format: RUN_FORMAT,
      id,
      name: init.name?.trim() || id,
      status: init.status ?? 'queued',
      config,
      ...(init.resolved ? { resolved: init.resolved } : {}),
      arch: init.arch as RunRecord['arch'],
      ...(init.origin ? { origin: init.origin } : {}),
      dataset: init.dataset,
      seed: init.seed ?? config.seed,
      ...(init.backend ? { backend: init.backend } : {}),
      versions: currentVersions(),
      host: currentHost(),
      createdAt: createdAt.toISOString(),
      progress: init.progress ?? { epoch: 0, step: 0, totalSteps: 0 },
      wallSeconds: 0,
    };
    try {
      const valid = this.validate(record, id);
      await fs.promises.mkdir(this.checkpointDir(id));
      await fs.promises.mkdir(this.evalDir(id));
      await init.prepare?.(path.join(this.root, id));
      await writeJsonAtomic(this.runFile(id), valid);
      return valid;
    } catch (err) {
      await fs.promises.rm(path.join(this.root, id), { recursive: true, force: true });
      throw err;
    }
  }

  async get(id: string): Promise<RunRecord> {
    const file = this.runFile(id);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (fs.existsSync(this.runDir(id))) throw new BrokenRunError(`${file}: missing (the run folder has no run.json)`);
      throw new RunNotFoundError(id, this.root);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new BrokenRunError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    return this.validate(value, id, true);
  }

  async list(): Promise<RunListing> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], broken: [] };
      throw err;
    }
    const runs: RunRecord[] = [];
    const broken: BrokenRun[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const dir = path.join(this.root, entry.name);
      try {
        runs.push(await this.get(entry.name));
      } catch (err) {
        if (await beingCreated(dir)) continue;
        broken.push({ id: entry.name, dir, error: err instanceof Error ? err.message : String(err) });
      }
    }
    runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id, 'en', { numeric: true }));
    broken.sort((a, b) => b.id.localeCompare(a.id, 'en', { numeric: true }));
    return { runs, broken };
  }

  /**
   * Change run.json: a shallow patch of top-level fields, or a function of the current record
   * returning one (null: no change). The read-modify-write holds the run's update lock, so
   * concurrent updates from several processes all land. The write is temp + rename: a failure
   * (invalid patch, unserialisable value, full disk) leaves the old file as it was.
   */
  async update(id: string, patch: RunPatch | ((current: RunRecord) => RunPatch | null)): Promise<RunRecord> {
    return this.withUpdateLock(id, async () => {
      const current = await this.get(id);
      const change = typeof patch === 'function' ? patch(current) : patch;
      if (!change) return current;
      const next = this.validate({ ...current, ...change, id: current.id, format: current.format }, id);
      await writeJsonAtomic(this.runFile(id), next);
      return next;
    });
  }

  async rename(id: string, name: string): Promise<RunRecord> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 200 || /[\u0000-\u001f\u007f]/.test(trimmed)) {
      throw new RangeError(`run name ${JSON.stringify(name)}: expected 1–200 printable characters`);
    }
    return this.update(id, { name: trimmed });
  }

  /** Notes and tags: tags are trimmed and kept once each, in the order given. */
  async annotate(id: string, a: { notes?: string | undefined; tags?: string[] | undefined }): Promise<RunRecord> {
    const patch: RunPatch = {};
    if (a.notes !== undefined) patch.notes = a.notes;
    if (a.tags !== undefined) patch.tags = [...new Set(a.tags.map((t) => t.trim()).filter(Boolean))];
    return this.update(id, patch);
  }

  /** Delete a run and all its files. Refused while a live process holds its trainer lock. */
  async remove(id: string): Promise<void> {
    await this.get(id).catch((err) => {
      if (err instanceof BrokenRunError) return; // a broken run can still be removed
      throw err;
    });
    const lock = await readLockFile(this.lockFile(id));
    if (lock && holderState(lock) !== 'dead') throw this.lockedError(id, lock.info!, '; stop it before removing it');
    this.closeAppender(id);
    // Move it out of sight first, so a reader never sees a half-deleted run.
    const trash = path.join(this.root, `${TRASH_PREFIX}${id}-${crypto.randomBytes(4).toString('hex')}`);
    await fs.promises.rename(this.runDir(id), trash);
    await fs.promises.rm(trash, { recursive: true, force: true });
  }

  /** Append metric lines. They reach the OS at once (a killed trainer loses none); flushMetrics makes them durable. */
  async appendMetrics(id: string, lines: readonly MetricLine[]): Promise<void> {
    const text = serializeMetricLines(lines, `metrics for run ${id}`);
    this.appender(id).append(text);
  }

  /** fsync metrics.jsonl; the engine calls this at least once per epoch. */
  async flushMetrics(id: string): Promise<void> {
    const appender = this.appenders.get(validateRunId(id));
    if (appender) await appender.flush();
  }

  /** Flush and close the run's metrics file (the trainer's last call). */
  async closeMetrics(id: string): Promise<void> {
    const appender = this.appenders.get(validateRunId(id));
    if (!appender) return;
    try {
      await appender.flush();
    } finally {
      this.closeAppender(id);
    }
  }

  async readMetrics(id: string): Promise<RunMetrics> {
    if (!fs.existsSync(this.runDir(id))) throw new RunNotFoundError(id, this.root);
    return readMetricsFile(this.metricsFile(id));
  }

  /**
   * Drop metric lines logged after `step`: a session resumed from the checkpoint at `step`
   * logs those steps again, and the series should hold each step once.
   */
  async rewindMetrics(id: string, step: number): Promise<void> {
    await this.withUpdateLock(id, async () => {
      this.closeAppender(id);
      const file = this.metricsFile(id);
      let text: string;
      try {
        text = await fs.promises.readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      await writeFileAtomic(file, keepUpToStep(text, step));
    });
  }

  /**
   * Take the run for training: `<run>/trainer.lock` holds {pid, hostname, startedAt}. Throws
   * RunLockedError while another live process holds it; a lock left by a dead process is taken
   * over. Take the lock before setting the status to 'running'.
   */
  async acquireLock(id: string, opts: { heartbeat?: boolean } = {}): Promise<Release> {
    await this.get(id);
    const file = this.lockFile(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      const mine = await createLockFile(file);
      if (mine) {
        // A holder for longer than LOCK_STALE_MS (a trainer) must keep its heartbeat fresh.
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
      if (holderState(held) !== 'dead') throw this.lockedError(id, held.info!, '');
      await removeStaleLock(file, held.raw);
    }
    throw new Error(`run ${id}: could not take ${file}: it keeps changing`);
  }

  /**
   * The manual override (`kiln runs unlock`): remove the run's trainer and update locks even if a
   * host that cannot be checked from here still refreshes them, then recover the run (running
   * becomes interrupted). Refused while a trainer on this host is alive: pause or stop that instead.
   */
  async unlock(id: string): Promise<{ removed: LockInfo[] }> {
    await this.get(id).catch((err) => {
      if (!(err instanceof BrokenRunError)) throw err;
    });
    const removed: LockInfo[] = [];
    for (const file of [this.lockFile(id), path.join(this.runDir(id), UPDATE_LOCK)]) {
      const held = await readLockFile(file);
      if (!held) continue;
      if (holderState(held) === 'alive') throw this.lockedError(id, held.info!, '; it is alive on this host: pause or stop it instead');
      await removeStaleLock(file, held.raw);
      if (held.info) removed.push(held.info);
    }
    await this.recoverOne(id).catch((err) => {
      if (!(err instanceof BrokenRunError)) throw err;
    });
    return { removed };
  }

  /** Who holds the run's trainer lock, and whether that process still runs; null when unlocked. */
  async lockHolder(id: string): Promise<(LockInfo & { alive: boolean; heartbeatAt: string }) | null> {
    const held = await readLockFile(this.lockFile(id));
    if (!held?.info) return null;
    return { ...held.info, alive: holderState(held) !== 'dead', heartbeatAt: new Date(held.heartbeatMs).toISOString() };
  }

  /**
   * Crash recovery, for the start of the app, the CLI and the server: a run marked running (or
   * queued with a trainer lock) whose trainer is gone becomes 'interrupted', and can be resumed
   * from its last checkpoint. Also clears stale locks and the leftovers of writes and deletes
   * that were killed half-way. Returns the ids it marked interrupted.
   */
  async recoverInterrupted(): Promise<string[]> {
    const recovered: string[] = [];
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return recovered;
      throw err;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      if (entry.name.startsWith(TRASH_PREFIX)) {
        await fs.promises.rm(path.join(this.root, entry.name), { recursive: true, force: true });
        continue;
      }
      if (entry.name.startsWith('.')) continue;
      try {
        if (await this.recoverOne(entry.name)) recovered.push(entry.name);
      } catch (err) {
        // One broken run must not stop the recovery of the others; list() reports it.
        if (!(err instanceof BrokenRunError || (err as Error).name === 'InvalidRunIdError')) throw err;
      }
    }
    return recovered;
  }

  private async recoverOne(id: string): Promise<boolean> {
    // Most runs need nothing; look before taking the update lock, so listing a read-only home works.
    const names = await fs.promises.readdir(this.runDir(id));
    const suspect =
      names.includes(TRAINER_LOCK) ||
      names.some((n) => ATOMIC_TEMP.test(n) || LOCK_TEMP.test(n)) ||
      (await this.get(id)).status === 'running';
    if (!suspect) return false;
    return this.withUpdateLock(id, async () => {
      const dir = this.runDir(id);
      // Holding the update lock, no atomic write of this run is in flight: any temp file is a leftover.
      for (const name of await fs.promises.readdir(dir)) {
        const file = path.join(dir, name);
        if (ATOMIC_TEMP.test(name)) await fs.promises.rm(file, { force: true });
        else if (LOCK_TEMP.test(name)) {
          const age = Date.now() - (await fs.promises.stat(file).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
          if (age > LOCK_TEMP_MAX_AGE_MS) await fs.promises.rm(file, { force: true });
        }
      }
      const record = await this.get(id);
      const lock = await readLockFile(this.lockFile(id));
      const state = lock ? holderState(lock) : null;
      if (state === 'alive' || state === 'other-host') return false;
      const interrupted = record.status === 'running' || (record.status === 'queued' && lock !== null);
      if (interrupted) {
        const next = this.validate({ ...record, status: 'interrupted' }, id);
        await writeJsonAtomic(this.runFile(id), next);
      }
      if (lock) await removeStaleLock(this.lockFile(id), lock.raw);
      return interrupted;
    });
  }

  /** Check a record read from disk (BrokenRunError) or about to be written (plain Error: the caller's mistake). */
  private validate(value: unknown, id: string, reading = false): RunRecord {
    const file = path.join(this.root, id, RUN_FILE);
    const fail = (message: string) => (reading ? new BrokenRunError(message) : new Error(message));
    const result = RunRecordSchema.safeParse(reading ? migrateRunRecord(value) : value);
    if (!result.success) throw fail(formatZodError(result.error, reading ? file : `run ${id}`));
    if (result.data.id !== id) throw fail(`${file}: id: expected "${id}" (the folder name), got "${result.data.id}"`);
    return result.data;
  }

  private lockedError(id: string, info: LockInfo, advice: string): RunLockedError {
    const where = info.hostname === os.hostname() ? '' : ` on host ${info.hostname}`;
    return new RunLockedError(
      id,
      info.pid,
      info.hostname,
      `run ${id} is already being trained by pid ${info.pid}${where} (since ${info.startedAt})${advice}`,
    );
  }

  private appender(id: string): MetricsAppender {
    let appender = this.appenders.get(id);
    if (!appender) {
      if (!fs.existsSync(this.runDir(id))) throw new RunNotFoundError(id, this.root);
      appender = new MetricsAppender(this.metricsFile(id));
      this.appenders.set(id, appender);
    }
    return appender;
  }

  private closeAppender(id: string): void {
    const appender = this.appenders.get(id);
    if (!appender) return;
    this.appenders.delete(id);
    appender.close();
  }

  /** A short cross-process mutex around run.json read-modify-writes; a holder that died is taken over. */
  private withUpdateLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const key = validateRunId(id);
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.withFileLock(id, fn));
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  private async withFileLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const dir = this.runDir(id);
    if (!fs.existsSync(dir)) throw new RunNotFoundError(id, this.root);
    const file = path.join(dir, UPDATE_LOCK);
    const deadline = Date.now() + UPDATE_LOCK_WAIT_MS;
    let mine: LockInfo | null = null;
    for (let wait = 1; !mine; wait = Math.min(wait * 2, 50)) {
      mine = await createLockFile(file);
      if (mine) break;
      const held = await readLockFile(file);
      if (held && holderState(held) === 'dead') {
        await removeStaleLock(file, held.raw);
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`run ${id}: ${file} has been held by pid ${held?.info?.pid ?? '?'} for over ${UPDATE_LOCK_WAIT_MS / 1000}s`);
      }
      await sleep(wait + Math.random() * wait);
    }
    try {
      return await fn();
    } finally {
      await releaseLockFile(file, mine);
    }
  }
}
