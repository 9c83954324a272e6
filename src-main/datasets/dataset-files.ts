import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { DataError, DatasetNotFoundError } from '../common/errors.ts';
import { injectedDiskFull } from '../common/test-faults.ts';
import { RESERVED_IDS } from './dataset-id.ts';
import { DATASET_FILES, datasetManifestSchema, type DatasetManifest, type SplitName } from '../../src-shared/dataset-manifest.ts';
import { readTextOrNull } from '../common/read-text.ts';

/** The raw files of one split: uint8 RGB images, one label byte each. */
export function splitFiles(dir: string, split: SplitName): { images: string; labels: string } {
  return split === 'train'
    ? { images: path.join(dir, DATASET_FILES.trainImages), labels: path.join(dir, DATASET_FILES.trainLabels) }
    : { images: path.join(dir, DATASET_FILES.valImages), labels: path.join(dir, DATASET_FILES.valLabels) };
}

/** A dataset folder's manifest, checked, with the hash runs record; DatasetNotFoundError when it has none. */
export async function readManifest(root: string, id: string): Promise<{ manifest: DatasetManifest; hash: string }> {
  const file = path.join(root, id, DATASET_FILES.manifest);
  const text = await readTextOrNull(file);
  if (text === null) {
    const hint = RESERVED_IDS.has(id) ? ' (it is built into the engine, not stored)' : '';
    throw new DatasetNotFoundError(`no dataset "${id}" in ${root}${hint}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = datasetManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DataError(`${file}: field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
  }
  if (parsed.data.id !== id) throw new DataError(`${file}: field "id" is "${parsed.data.id}", expected "${id}" (the folder name)`);
  return { manifest: parsed.data, hash: contentHash(parsed.data) };
}

/** Hash of what the data is, leaving out the display name, so renaming a dataset does not make old runs look stale. */
export function contentHash(manifest: DatasetManifest): string {
  const { name: _name, ...rest } = manifest;
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** Identifies one stored version of a dataset (a re-import under the same id has a new createdAt): keys the per-id caches. */
export function cacheKey(manifest: DatasetManifest): string {
  return `${manifest.createdAt}|${manifest.counts.train}|${manifest.counts.val}`;
}

export async function readExact(file: string, expected: number): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`${file}: missing`);
    throw err;
  }
  if (buf.length !== expected) throw new DataError(`${file}: expected ${expected} bytes, found ${buf.length}`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

export async function writeSynced(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await fs.promises.open(file, 'w');
  try {
    await handle.writeFile(bytes);
    injectedDiskFull('dataset', file);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
