import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { writeJsonAtomic } from '../common/atomic-write.ts';
import { DataError, UsageError } from '../common/errors.ts';
import { acquireLockFile } from '../common/lock-file.ts';
import { describeFsError } from '../common/fs-errors.ts';
import { fsyncDir } from '../common/fsync-dir.ts';
import { hashFile } from '../common/hash-file.ts';
import { downloadWithResume } from '../datasets/http-download.ts';
import type { ProxyResolver } from '../datasets/proxy.ts';
import { BACKBONE_NAMES, BACKBONES, backboneGraph, findBackbone, LICENCE_NOTE, type BackboneInfo } from '../engine/backbones/registry.ts';
import { checkBackboneFile } from '../engine/backbones/load-weights.ts';
import type { DownloadProgressEvent } from '../../src-shared/dataset-progress.ts';

/**
 * Pretrained backbone weights in the Kiln home, fetched once and shared by every run:
 *
 *   backbones/<name>/model.safetensors   the weights (never rewritten in place: a new copy is renamed over it)
 *   backbones/<name>/backbone.json       where they came from, their SHA-256, verified or not
 *   backbones/.downloads/<name>-<rev>.part (+ .json)   a download in progress, resumed by the next attempt
 *   backbones/licence.json               the licence note the person accepted, and when
 *
 * A run takes its copy by hard link (`linkInto`), so it keeps the weights it started from whatever happens to the store.
 */

export interface BackboneRecord {
  name: string;
  sha256: string;
  bytes: number;
  /** True when the SHA-256 is the registry's pin (or the one given for a mirror); false for `add --unverified`. */
  verified: boolean;
  source: { kind: 'download'; url: string; revision: string } | { kind: 'file'; path: string };
  addedAt: string;
}

export interface BackboneStatus {
  name: string;
  title: string;
  repo: string;
  revision: string;
  sha256: string;
  approxBytes: number;
  licence: string;
  inputSize: number;
  /** The stored copy, or null when it has not been fetched or added yet. */
  cached: BackboneRecord | null;
}

/** No such backbone in the registry (CLI exit 2). */
export class UnknownBackboneError extends UsageError {
  override name = 'UnknownBackboneError';
}

/** The backbone is known but its weights are not in the Kiln home yet. */
export class BackboneNotCachedError extends UsageError {
  override name = 'BackboneNotCachedError';
}

/** A first download was asked for without the licence note having been accepted. */
export class LicenceNotAcceptedError extends UsageError {
  override name = 'LicenceNotAcceptedError';
}

export interface BackboneDownloadOptions {
  /** A mirror of the pinned file; its SHA-256 is still checked (against `sha256` when given, else the pin). */
  url?: string;
  sha256?: string;
  /** The person has just accepted the licence note (recorded; later downloads need not ask again). */
  acceptLicence?: boolean;
  onProgress?: (e: DownloadProgressEvent) => void;
  signal?: AbortSignal;
  maxRetries?: number;
  retryDelayMs?: number;
  proxyFor?: ProxyResolver;
}

export interface BackboneDownloadSummary {
  record: BackboneRecord;
  /** True when the weights were already stored: nothing was downloaded. */
  alreadyStored: boolean;
  bytes: number;
  resumedFrom: number;
  retries: number;
  seconds: number;
}

export function knownBackbone(name: string): BackboneInfo {
  const b = findBackbone(name);
  if (!b) throw new UnknownBackboneError(`unknown backbone "${name}"; known: ${BACKBONE_NAMES.join(', ')}`);
  return b;
}

export class BackboneStore {
  readonly root: string;

  constructor(home: string) {
    this.root = path.join(path.resolve(home), 'backbones');
  }

  /** Where a backbone's weights live once stored. */
  weightsFile(name: string): string {
    return path.join(this.root, name, 'model.safetensors');
  }

  async record(name: string): Promise<BackboneRecord | null> {
    knownBackbone(name);
    try {
      const rec = JSON.parse(await fs.promises.readFile(path.join(this.root, name, 'backbone.json'), 'utf8')) as BackboneRecord;
      // A record without its weights (removed by hand) is no copy.
      await fs.promises.access(this.weightsFile(name));
      return rec;
    } catch {
      return null;
    }
  }

  async list(): Promise<BackboneStatus[]> {
    return Promise.all(
      BACKBONES.map(async (b) => ({
        name: b.name,
        title: b.title,
        repo: b.weights.repo,
        revision: b.weights.revision,
        sha256: b.weights.sha256,
        approxBytes: b.weights.approxBytes,
        licence: b.weights.licence,
        inputSize: b.preprocess.inputSize,
        cached: await this.record(b.name),
      })),
    );
  }

  /** The stored weights of a backbone, or BackboneNotCachedError saying how to get them. */
  async resolve(name: string): Promise<{ backbone: BackboneInfo; file: string; record: BackboneRecord }> {
    const backbone = knownBackbone(name);
    const record = await this.record(name);
    if (!record) {
      throw new BackboneNotCachedError(
        `the ${name} weights are not in ${this.root} yet: run \`kiln backbone get ${name}\` (about ${Math.round(backbone.weights.approxBytes / 1e6)} MB), ` +
          `or \`kiln backbone add ${name} FILE\` with a copy of ${backbone.weights.repo}'s model.safetensors`,
      );
    }
    return { backbone, file: this.weightsFile(name), record };
  }

  async licenceAccepted(): Promise<boolean> {
    try {
      const v = JSON.parse(await fs.promises.readFile(path.join(this.root, 'licence.json'), 'utf8')) as { note?: string };
      return v.note === LICENCE_NOTE;
    } catch {
      return false;
    }
  }

  async acceptLicence(): Promise<void> {
    await fs.promises.mkdir(this.root, { recursive: true });
    await writeJsonAtomic(path.join(this.root, 'licence.json'), { note: LICENCE_NOTE, acceptedAt: new Date().toISOString() });
  }

  /** A download's partial file while it runs, named after the backbone and the URL, so a rerun of the same download resumes it. */
  partialFile(name: string, url: string): string {
    return path.join(this.root, '.downloads', `${name}-${crypto.createHash('sha256').update(url).digest('hex').slice(0, 12)}.part`);
  }

  /**
   * Fetch the pinned weights (resumable, checksum-verified, with progress) unless they are stored already.
   * The first download needs the licence note accepted (`acceptLicence`, or earlier): LicenceNotAcceptedError otherwise.
   */
  async download(name: string, opts: BackboneDownloadOptions = {}): Promise<BackboneDownloadSummary> {
    const started = performance.now();
    const backbone = knownBackbone(name);
    const sha256 = (opts.sha256 ?? backbone.weights.sha256).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UsageError(`--sha256: expected 64 hex digits, got "${opts.sha256}"`);
    const storedAlready = async (): Promise<BackboneDownloadSummary | null> => {
      const rec = await this.record(name);
      if (!rec || !rec.verified || rec.sha256 !== sha256) return null;
      return {
        record: rec,
        alreadyStored: true,
        bytes: rec.bytes,
        resumedFrom: 0,
        retries: 0,
        seconds: (performance.now() - started) / 1000,
      };
    };
    const existing = await storedAlready();
    if (existing) return existing;
    if (opts.acceptLicence) await this.acceptLicence();
    else if (!(await this.licenceAccepted()))
      throw new LicenceNotAcceptedError(`downloading pretrained weights needs the licence note accepted first: ${LICENCE_NOTE}`);

    const url = opts.url ?? backbone.weights.url;
    const part = this.partialFile(name, url);
    await fs.promises.mkdir(path.dirname(part), { recursive: true });
    // One writer per partial file across processes (the app and `kiln backbone get`): two would interleave its bytes.
    const release = await acquireLockFile(
      `${part}.lock`,
      (h) =>
        new UsageError(
          `backbone ${name} is being downloaded by another Kiln process (pid ${h.pid} on ${h.hostname}); wait for it to finish`,
        ),
      { heartbeat: true },
    );
    let dl: Awaited<ReturnType<typeof downloadWithResume>>;
    let record: BackboneRecord;
    try {
      // That process may have stored it while this one waited for the lock.
      const stored = await storedAlready();
      if (stored) return stored;
      dl = await downloadWithResume({
        url,
        file: part,
        signal: opts.signal,
        onProgress: opts.onProgress,
        maxRetries: opts.maxRetries,
        retryDelayMs: opts.retryDelayMs,
        proxyFor: opts.proxyFor,
        // The published size is rounded: a little slack, never gigabytes.
        maxBytes: Math.ceil(backbone.weights.approxBytes * 1.1) + 1_000_000,
      });
      opts.onProgress?.({ phase: 'verify', algorithm: 'sha256' });
      const actual = await hashFile(part, 'sha256', opts.signal);
      if (actual !== sha256) {
        await discard(part);
        throw new DataError(`checksum mismatch for ${url}: expected sha256 ${sha256}, got ${actual}; the download was removed`);
      }
      record = {
        name,
        sha256,
        bytes: dl.bytes,
        verified: true,
        source: { kind: 'download', url, revision: backbone.weights.revision },
        addedAt: new Date().toISOString(),
      };
      await this.install(name, part, record);
      await fs.promises.rm(`${part}.json`, { force: true });
    } finally {
      await release();
    }
    const seconds = (performance.now() - started) / 1000;
    opts.onProgress?.({ phase: 'done', id: name, seconds });
    return { record, alreadyStored: false, bytes: dl.bytes, resumedFrom: dl.resumedFrom, retries: dl.retries, seconds };
  }

  /**
   * Install a local safetensors file (air-gapped machines): its SHA-256 must be the pin, or with `unverified` its
   * tensor names and shapes must fit the architecture (the record then says it is unverified).
   */
  async add(name: string, file: string, opts: { unverified?: boolean; signal?: AbortSignal } = {}): Promise<BackboneRecord> {
    const backbone = knownBackbone(name);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch {
      throw new DataError(`${file}: no such file`);
    }
    if (!stat.isFile()) throw new DataError(`${file}: not a file`);
    const sha256 = await hashFile(file, 'sha256', opts.signal);
    const pinned = sha256 === backbone.weights.sha256;
    if (!pinned) {
      if (!opts.unverified) {
        throw new DataError(
          `${file}: its SHA-256 is ${sha256}, not the pinned ${backbone.weights.sha256} of ${backbone.weights.repo} at ${backbone.weights.revision.slice(0, 7)}; ` +
            `to use it anyway, add --unverified (its tensor names and shapes are then checked against ${name}, and runs record it as unverified)`,
        );
      }
      const problems = await checkBackboneFile(file, backbone, backboneGraph(backbone));
      if (problems.length > 0) {
        throw new DataError(
          `${file}: does not fit ${name}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
        );
      }
    }
    await fs.promises.mkdir(this.root, { recursive: true });
    const tmp = path.join(this.root, `.add-${name}-${crypto.randomBytes(6).toString('hex')}`);
    try {
      await fs.promises.copyFile(file, tmp);
      const record: BackboneRecord = {
        name,
        sha256,
        bytes: stat.size,
        verified: pinned,
        source: { kind: 'file', path: path.resolve(file) },
        addedAt: new Date().toISOString(),
      };
      await this.install(name, tmp, record);
      return record;
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw describeFsError(err, `backbone "${name}" in ${this.root}`);
    }
  }

  /**
   * Give a run its own name for the stored weights: a hard link `dir/<name>.safetensors` (a copy where links are
   * not possible), so runs share one copy on disk. Returns what the run record should say about them.
   */
  async linkInto(name: string, dir: string): Promise<{ file: string; record: BackboneRecord }> {
    const { file, record } = await this.resolve(name);
    await fs.promises.mkdir(dir, { recursive: true });
    const dest = path.join(dir, `${name}.safetensors`);
    await fs.promises.rm(dest, { force: true });
    await fs.promises.link(file, dest).catch(() => fs.promises.copyFile(file, dest));
    return { file: dest, record };
  }

  /** Move a complete, checked file into place, then its record: a crash leaves the old copy or the new one. */
  private async install(name: string, from: string, record: BackboneRecord): Promise<void> {
    const dir = path.join(this.root, name);
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.rename(from, this.weightsFile(name));
    await fsyncDir(dir);
    await writeJsonAtomic(path.join(dir, 'backbone.json'), record);
  }
}

async function discard(part: string): Promise<void> {
  await fs.promises.rm(part, { force: true });
  await fs.promises.rm(`${part}.json`, { force: true });
}
