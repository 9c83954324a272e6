import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model/model.ts';
import type { Sgd } from './sgd.ts';
import type { Position } from './learner.ts';

/**
 * A checkpoint is a folder: `checkpoint.json` (position, tensor index, anything the caller adds) and
 * `tensors.bin` (float32, back to back). It is written beside its final place and swapped in by rename,
 * so a crash mid-write leaves the previous checkpoint whole.
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

function stateOf(model: Model, sgd: Sgd): Map<string, tf.Variable> {
  const all = new Map(model.namedVariables());
  for (const p of model.params) all.set(`${p.name}/velocity`, sgd.velocity.get(p.name)!);
  return all;
}

export async function saveCheckpoint(dir: string, model: Model, sgd: Sgd, position: Position, extra?: Record<string, unknown>): Promise<void> {
  const tensors: CheckpointMeta['tensors'] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, variable] of stateOf(model, sgd)) {
    const data = (await variable.data()) as Float32Array;
    tensors.push({ name, shape: variable.shape, offset });
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  }
  const meta: CheckpointMeta = { format: 1, position, savedAt: new Date().toISOString(), tensors, ...(extra ? { extra } : {}) };
  await fs.promises.mkdir(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${crypto.randomBytes(4).toString('hex')}`;
  await fs.promises.mkdir(tmp);
  for (const [file, body] of [[DATA, Buffer.concat(chunks)], [META, JSON.stringify(meta)]] as const) {
    const handle = await fs.promises.open(path.join(tmp, file), 'w');
    await handle.writeFile(body);
    await handle.sync();
    await handle.close();
  }
  const old = `${dir}.old-${crypto.randomBytes(4).toString('hex')}`;
  const hadOld = fs.existsSync(dir);
  if (hadOld) await fs.promises.rename(dir, old);
  await fs.promises.rename(tmp, dir);
  if (hadOld) await fs.promises.rm(old, { recursive: true, force: true });
}

export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  const file = path.join(dir, META);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`checkpoint ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (meta.format !== 1) throw new Error(`checkpoint ${file}: format ${meta.format}, expected 1`);
  return meta;
}

/** Restore weights, BN statistics and momentum into an already built model and optimiser. */
export async function loadCheckpoint(dir: string, model: Model, sgd: Sgd): Promise<CheckpointMeta> {
  const meta = await readCheckpointMeta(dir);
  const data = await fs.promises.readFile(path.join(dir, DATA));
  const state = stateOf(model, sgd);
  const index = new Map(meta.tensors.map((t) => [t.name, t]));
  for (const [name, variable] of state) {
    const entry = index.get(name);
    if (!entry) throw new Error(`checkpoint ${dir}: has no tensor ${name}; was it made for another architecture?`);
    if (entry.shape.join() !== variable.shape.join()) {
      throw new Error(`checkpoint ${dir}: tensor ${name} has shape [${entry.shape}], the model expects [${variable.shape}]`);
    }
    const size = variable.size;
    const values = new Float32Array(data.buffer.slice(data.byteOffset + entry.offset, data.byteOffset + entry.offset + size * 4));
    if (values.length !== size) throw new Error(`checkpoint ${dir}: ${DATA} is truncated at tensor ${name}`);
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
  }
  return meta;
}
