import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fsyncDir } from '../../common/fsync-dir.ts';
import { faultPoint, injectedDiskFull } from '../../common/test-faults.ts';
import { describeFsError } from '../../common/fs-errors.ts';
import type { Model } from '../model/model.ts';
import type { Sgd } from './sgd.ts';
import type { Position } from './position.ts';
import { assignVariables, trainingState } from './training-state.ts';

export { assignVariables };

/**
 * A checkpoint slot (`latest`, `best`) is a pointer file plus numbered folders beside it:
 *
 *   checkpoints/latest            {"dir":"latest.000007"}   (the pointer)
 *   checkpoints/latest.000007/    checkpoint.json + tensors.bin
 *
 * Saving writes a new numbered folder (tensors, then the meta by temp + rename, each fsynced, then
 * the folder), then switches the pointer by temp + rename and fsyncs the parent, then removes older
 * folders. A crash at any instruction leaves the pointer on a complete checkpoint, the old one or
 * the new one; `resolveCheckpoint` falls back to the newest complete folder if the pointer is
 * missing or damaged, and `cleanCheckpoints` (the trainer, at start) removes what a crash left.
 * A slot that is itself a folder is the format before pointers; it is read as is and converted on
 * the next save.
 */
export interface CheckpointMeta {
  format: 1;
  position: Position;
  savedAt: string;
  tensors: { name: string; shape: number[]; offset: number }[];
  extra?: Record<string, unknown>;
}

const META = 'checkpoint.json';
const DATA = 'tensors.bin';

const numbered = (slot: string) => new RegExp(`^${slot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d{6,})$`);

/** This slot's numbered folders, newest first. */
function numberedFolders(parent: string, slot: string): { name: string; seq: number }[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const re = numbered(slot);
  return names
    .map((name) => ({ name, m: re.exec(name) }))
    .filter((e) => e.m)
    .map((e) => ({ name: e.name, seq: Number(e.m![1]) }))
    .sort((a, b) => b.seq - a.seq);
}

async function writeSynced(file: string, body: string | Uint8Array, op: string): Promise<void> {
  const handle = await fs.promises.open(file, 'w');
  try {
    await handle.writeFile(body);
    injectedDiskFull(op, file);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function readPointer(target: string): string | null {
  try {
    const v = JSON.parse(fs.readFileSync(target, 'utf8')) as { dir?: unknown };
    return typeof v.dir === 'string' && numbered(path.basename(target)).test(v.dir) ? v.dir : null;
  } catch {
    return null;
  }
}

/** A folder with a readable meta and a tensor file of the size the meta implies. */
function isComplete(dir: string): boolean {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, META), 'utf8')) as CheckpointMeta;
    if (meta.format !== 1 || !Array.isArray(meta.tensors)) return false;
    const end = meta.tensors.reduce((n, t) => Math.max(n, t.offset + t.shape.reduce((a, b) => a * b, 1) * 4), 0);
    return fs.statSync(path.join(dir, DATA)).size === end;
  } catch {
    return false;
  }
}

/**
 * The folder holding slot `target`'s (e.g. `checkpoints/latest`) checkpoint: the pointer's if it
 * names a complete one, else the newest complete numbered folder, else a folder-format slot; null
 * when there is none.
 */
export function resolveCheckpoint(target: string): string | null {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    stat = undefined as unknown as fs.Stats;
  }
  if (stat?.isDirectory()) return isComplete(target) ? target : null;
  const parent = path.dirname(target);
  const pointed = readPointer(target);
  if (pointed && isComplete(path.join(parent, pointed))) return path.join(parent, pointed);
  for (const { name } of numberedFolders(parent, path.basename(target))) {
    if (isComplete(path.join(parent, name))) return path.join(parent, name);
  }
  return null;
}

/** Remove what a crash mid-save left in slot `target`: folders other than the resolved one, temp pointers. Only the run's trainer may call it. */
export async function cleanCheckpoints(target: string): Promise<void> {
  const parent = path.dirname(target);
  const slot = path.basename(target);
  const keep = resolveCheckpoint(target);
  for (const { name } of numberedFolders(parent, slot)) {
    if (path.join(parent, name) !== keep) await fs.promises.rm(path.join(parent, name), { recursive: true, force: true });
  }
  let names: string[];
  try {
    names = await fs.promises.readdir(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(`.${slot}.`) && name.endsWith('.tmp')) await fs.promises.rm(path.join(parent, name), { force: true });
  }
  // A save that crashed before its pointer switch, with no pointer before it: nothing to point at.
  if (keep && !fs.statSync(target, { throwIfNoEntry: false })?.isDirectory() && readPointer(target) !== path.basename(keep)) {
    await switchPointer(target, path.basename(keep), `${slot}@recovery`);
  }
}

async function switchPointer(target: string, dirName: string, tag: string): Promise<void> {
  const parent = path.dirname(target);
  const tmp = path.join(parent, `.${path.basename(target)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeSynced(tmp, JSON.stringify({ dir: dirName }) + '\n', 'pointer');
    faultPoint('write-pointer', tag);
    await fs.promises.rename(tmp, target);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  faultPoint('switch-pointer', tag);
  await fsyncDir(parent);
  faultPoint('sync-parent', tag);
}

/**
 * Save into slot `target` (e.g. `<run>/checkpoints/latest`). On failure (a full disk) the new
 * folder is removed, the previous checkpoint stays the slot's, and the error says what could not
 * be written.
 */
export async function saveCheckpoint(
  target: string,
  model: Model,
  sgd: Sgd,
  position: Position,
  extra?: Record<string, unknown>,
): Promise<void> {
  const tensors: CheckpointMeta['tensors'] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, variable] of trainingState(model, sgd)) {
    const data = (await variable.data()) as Float32Array;
    tensors.push({ name, shape: variable.shape, offset });
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  }
  const meta: CheckpointMeta = { format: 1, position, savedAt: new Date().toISOString(), tensors, ...(extra ? { extra } : {}) };
  const parent = path.dirname(target);
  const slot = path.basename(target);
  const tag = `${slot}@${position.step}`;
  let dir: string | undefined;
  try {
    await fs.promises.mkdir(parent, { recursive: true });
    // The folder format of before: keep it readable as the oldest numbered folder, so the slot is never empty.
    if (fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
      await fs.promises.rename(target, path.join(parent, `${slot}.000000`));
      await fsyncDir(parent);
    }
    const seq = (numberedFolders(parent, slot)[0]?.seq ?? 0) + 1;
    dir = path.join(parent, `${slot}.${String(seq).padStart(6, '0')}`);
    await fs.promises.mkdir(dir);
    faultPoint('mkdir', tag);
    await writeSynced(path.join(dir, DATA), Buffer.concat(chunks), 'tensors');
    faultPoint('write-tensors', tag);
    const metaTmp = path.join(dir, `.${META}.tmp`);
    await writeSynced(metaTmp, JSON.stringify(meta), 'meta');
    faultPoint('write-meta', tag);
    await fs.promises.rename(metaTmp, path.join(dir, META));
    faultPoint('rename-meta', tag);
    await fsyncDir(dir);
    await fsyncDir(parent);
    faultPoint('sync-folder', tag);
    await switchPointer(target, path.basename(dir), tag);
  } catch (err) {
    // The pointer still names the previous checkpoint; the new folder is garbage.
    if (dir && readPointer(target) !== path.basename(dir))
      await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw describeFsError(err, `the ${slot} checkpoint in ${parent} (the previous ${slot} checkpoint is kept)`);
  }
  for (const { name } of numberedFolders(parent, slot)) {
    if (name !== path.basename(dir)) await fs.promises.rm(path.join(parent, name), { recursive: true, force: true });
  }
  faultPoint('clean', tag);
}

/** The meta of slot `target`'s checkpoint (or of a checkpoint folder). */
export async function readCheckpointMeta(target: string): Promise<CheckpointMeta> {
  const dir = resolveCheckpoint(target) ?? target;
  const file = path.join(dir, META);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`checkpoint ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (meta.format !== 1) throw new Error(`checkpoint ${file}: format ${meta.format}, expected 1`);
  return meta;
}

/** Slot `target`'s checkpoint: its folder, meta, and each tensor's values checked against the shape the caller expects. */
export async function readCheckpointTensors(
  target: string,
): Promise<{ dir: string; meta: CheckpointMeta; values(name: string, shape: number[]): Float32Array }> {
  let dir = resolveCheckpoint(target) ?? target;
  let meta: CheckpointMeta;
  let data: Buffer;
  try {
    meta = await readCheckpointMeta(dir);
    data = await fs.promises.readFile(path.join(dir, DATA));
  } catch (err) {
    // A trainer replaced the checkpoint between resolving and reading: read the new one.
    const again = resolveCheckpoint(target);
    if (!again || again === dir) throw err;
    dir = again;
    meta = await readCheckpointMeta(dir);
    data = await fs.promises.readFile(path.join(dir, DATA));
  }
  const index = new Map(meta.tensors.map((t) => [t.name, t]));
  const values = (name: string, shape: number[]): Float32Array => {
    const entry = index.get(name);
    if (!entry) throw new Error(`checkpoint ${dir}: has no tensor ${name}; was it made for another architecture?`);
    if (entry.shape.join() !== shape.join()) {
      throw new Error(`checkpoint ${dir}: tensor ${name} has shape [${entry.shape}], the model expects [${shape}]`);
    }
    const size = shape.reduce((a, d) => a * d, 1);
    const out = new Float32Array(data.buffer.slice(data.byteOffset + entry.offset, data.byteOffset + entry.offset + size * 4));
    if (out.length !== size) throw new Error(`checkpoint ${dir}: ${DATA} is truncated at tensor ${name}`);
    return out;
  };
  return { dir, meta, values };
}

/** Restore weights, BN statistics and momentum into an already built model and optimiser. */
export async function loadCheckpoint(target: string, model: Model, sgd: Sgd): Promise<CheckpointMeta> {
  const { meta, values } = await readCheckpointTensors(target);
  assignVariables(trainingState(model, sgd), values);
  return meta;
}
