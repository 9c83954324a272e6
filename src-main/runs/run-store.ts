import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { writeFileAtomic, writeJsonAtomic } from '../common/atomic-write.ts';
import { isDiskFull, releaseSpaceReserve } from './space-reserve.ts';
import { parseRunConfig, type ResolvedRun, type RunConfig } from '../../src-shared/run-config.ts';
import { currentHost, currentVersions } from './host-info.ts';
import { holderState, readLockFile, type LockInfo } from './lock-file.ts';
import { keepUpToStep, MetricsAppender, readMetricsFile, serializeMetricLines } from './metrics-log.ts';
import { BrokenRunError, RunNotFoundError } from './run-errors.ts';
import { baseRunId, runArchLabel, validateRunId } from './run-id.ts';
import {
  FROZEN_RUN_FIELDS,
  RUN_FORMAT,
  type MetricLine,
  type RunDataset,
  type RunMetrics,
  type RunPatch,
  type RunRecord,
  type RunStatus,
} from '../../src-shared/run-types.ts';
import { RUN_FILE, RunFiles, TRASH_PREFIX } from './run-files.ts';
import { assertRunNameFree } from './run-names.ts';
import { recoverInterrupted } from './run-recovery.ts';
import { acquireTrainerLock, trainerLockHolder, unlockRun, type Release } from './run-trainer-lock.ts';
import { readTextOrNull } from '../common/read-text.ts';

export type { Release } from './run-trainer-lock.ts';

export interface RunInit {
  /** The config as asked for (null = auto). */
  request: RunConfig;
  /** The config resolved once, with its derived counts (training/resolve-config.ts): frozen from here on. */
  resolved: ResolvedRun;
  dataset: RunDataset;
  name?: string;
  /** Default: 'queued'. */
  status?: RunStatus;
  backend?: RunRecord['backend'];
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
export class RunStore extends RunFiles {
  private readonly appenders = new Map<string, MetricsAppender>();

  async create(init: RunInit): Promise<RunRecord> {
    const request = parseRunConfig(init.request, 'run config');
    const createdAt = init.createdAt ?? new Date();
    const base = baseRunId(createdAt, runArchLabel(init), init.dataset.id);
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
      request,
      resolved: init.resolved,
      ...(init.origin ? { origin: init.origin } : {}),
      dataset: init.dataset,
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
    try {
      return await this.updateOnce(id, patch);
    } catch (err) {
      // A full disk: the space set aside for this (space-reserve.ts) goes, so that a run can still say why it stopped.
      if (!isDiskFull(err) || !(await releaseSpaceReserve(this.root))) throw err;
      return this.updateOnce(id, patch);
    }
  }

  private updateOnce(id: string, patch: RunPatch | ((current: RunRecord) => RunPatch | null)): Promise<RunRecord> {
    return this.withUpdateLock(id, async () => {
      const current = await this.get(id);
      const change = typeof patch === 'function' ? patch(current) : patch;
      if (!change) return current;
      // The type keeps these out of a patch; a cast must not get round it (id and format are simply kept).
      const frozen = FROZEN_RUN_FIELDS.find(
        (k) =>
          k !== 'id' &&
          k !== 'format' &&
          k in change &&
          JSON.stringify((change as Record<string, unknown>)[k]) !== JSON.stringify(current[k]),
      );
      if (frozen) throw new Error(`run ${id}: ${frozen} is fixed when the run is created and cannot be changed`);
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
    // Names are how people tell runs apart: refused here as run creation refuses them.
    const others = (await this.list()).runs.filter((r) => r.id !== id).map((r) => r.name);
    assertRunNameFree(others, trimmed);
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
      const text = await readTextOrNull(file);
      if (text === null) return;
      await writeFileAtomic(file, keepUpToStep(text, step));
    });
  }

  /** See acquireTrainerLock (run-trainer-lock.ts). */
  acquireLock(id: string, opts: { heartbeat?: boolean } = {}): Promise<Release> {
    return acquireTrainerLock(this, id, opts);
  }

  /** See unlockRun (run-trainer-lock.ts): `kiln runs unlock`. */
  unlock(id: string): Promise<{ removed: LockInfo[] }> {
    return unlockRun(this, id);
  }

  /** Who holds the run's trainer lock, and whether that process still runs; null when unlocked. */
  lockHolder(id: string): Promise<(LockInfo & { alive: boolean; heartbeatAt: string }) | null> {
    return trainerLockHolder(this, id);
  }

  /** See recoverInterrupted (run-recovery.ts): marks runs whose trainer died 'interrupted'; returns their ids. */
  recoverInterrupted(): Promise<string[]> {
    return recoverInterrupted(this);
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
}
