import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { assembleEvalBatch, normalisationTable } from '../src-main/engine/data/batches.ts';
import { makeSyntheticDataset } from '../src-main/engine/data/synthetic.ts';
import { decodeModel } from '../src-main/engine/onnx/onnx-proto.ts';
import { openOnnxSession } from '../src-main/engine/onnx/onnx-runtime.ts';
import { KilnExportSchema } from '../src-main/training/kiln-export.ts';
import { loadRunModel } from '../src-main/training/run-model.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';
import { kiln, PROCESS_TEST_TIMEOUT, runIdOf } from './fixtures/kiln-process.ts';

/**
 * Runs trained by a real `kiln train` (a few steps: the export is what is under test), exported by
 * `kiln export --format onnx`, loaded in ONNX Runtime and compared with Kiln's own logits on the
 * runs' validation images.
 */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT, hookTimeout: PROCESS_TEST_TIMEOUT });

let home: string;
const dataset = makeSyntheticDataset();
const S = dataset.imageSize;

/** `kiln train` on the first `images` synthetic images for one epoch; returns the run id. */
async function train(arch: string, images: number, val: number, batch: number): Promise<string> {
  const { code, stdout, stderr } = await kiln([
    'train',
    '--home',
    home,
    '--arch',
    arch,
    '--dataset',
    'synthetic',
    '--limit-train',
    String(images),
    '--limit-val',
    String(val),
    '--batch-size',
    String(batch),
    '--epochs',
    '1',
    '--backend',
    'wasm',
    '--json',
  ]);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return runIdOf(stdout);
}

async function exportOnnx(id: string, dir: string, extra: string[] = []) {
  const { code, stdout, stderr } = await kiln(['export', id, '--format', 'onnx', '--out', dir, '--json', '--home', home, ...extra]);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as { dir: string; files: string[]; kiln: unknown };
}

/** Kiln's logits (the engine model, BN in inference mode) and ONNX Runtime's on the first `n` validation images. */
async function logitsBoth(id: string, dir: string, n: number): Promise<{ kiln: Float32Array; onnx: Float32Array; k: number }> {
  const info = KilnExportSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'kiln.json'), 'utf8')));
  const engine = await loadRunModel(home, id, { checkpoint: 'best', dataset });
  const x = new Float32Array(n * S * S * 3);
  assembleEvalBatch(dataset.val, S, 0, n, normalisationTable(dataset.mean, dataset.std), x, new Int32Array(n));
  const logits = tf.tidy(() => engine.model.forward(tf.tensor4d(x, [n, S, S, 3]), false));
  const kilnLogits = (await logits.data()) as Float32Array;
  logits.dispose();
  engine.dispose();

  // What a user of model.onnx feeds it: the stored RGB bytes / 255, in the layout kiln.json names.
  const nchw = info.onnx!.layout === 'nchw';
  const input = new Float32Array(n * S * S * 3);
  const pixels = dataset.val.images;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < S * S; p++)
      for (let c = 0; c < 3; c++) input[b * S * S * 3 + (nchw ? c * S * S + p : p * 3 + c)] = pixels[(b * S * S + p) * 3 + c]! / 255;
  const session = await openOnnxSession(fs.readFileSync(path.join(dir, info.onnx!.file)));
  expect([session.inputNames, session.outputNames]).toEqual([['input'], ['logits']]);
  const onnx = await session.run(input, nchw ? [n, 3, S, S] : [n, S, S, 3]);
  await session.release();
  return { kiln: kilnLogits, onnx, k: info.classes.length };
}

function expectSameLogits({ kiln: a, onnx: b, k }: { kiln: Float32Array; onnx: Float32Array; k: number }) {
  expect(b.length).toBe(a.length);
  let worst = 0;
  let scale = 0;
  a.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - b[i]!));
    scale = Math.max(scale, Math.abs(v));
  });
  expect(scale).toBeGreaterThan(0);
  expect(worst).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));
  const top1 = (l: Float32Array) =>
    Array.from({ length: l.length / k }, (_, i) => {
      const row = Array.from(l.subarray(i * k, (i + 1) * k));
      return row.indexOf(Math.max(...row));
    });
  expect(top1(b)).toEqual(top1(a));
}

beforeAll(async () => {
  home = tempHome();
  await loadBackend('wasm');
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('ONNX export checked in ONNX Runtime', () => {
  let smallId: string;
  const smallDir = () => path.join(home, 'resnet-9-s-onnx');

  it('resnet-9-s: NCHW by default, NHWC on request; kiln.json and the model say how to feed it', async () => {
    smallId = await train('resnet-9-s', 64, 16, 32);
    const result = await exportOnnx(smallId, smallDir());
    expect(result.files.map((f) => path.basename(f))).toEqual(['model.onnx', 'kiln.json']);
    const info = KilnExportSchema.parse(result.kiln);
    expect(info.onnx).toEqual({
      file: 'model.onnx',
      opset: 17,
      layout: 'nchw',
      input: 'input',
      output: 'logits',
      inputRange: '0..1',
      normalisation: 'in-model',
    });
    const model = decodeModel(fs.readFileSync(path.join(smallDir(), 'model.onnx')));
    expect(model.inputs).toEqual([{ name: 'input', shape: ['batch', 3, S, S] }]);
    expect(model.outputs).toEqual([{ name: 'logits', shape: ['batch', 10] }]);
    expect(JSON.parse(model.metadata.kiln!)).toEqual(result.kiln);
    expectSameLogits(await logitsBoth(smallId, smallDir(), 16));

    const nhwcDir = path.join(home, 'resnet-9-s-nhwc');
    await exportOnnx(smallId, nhwcDir, ['--layout', 'nhwc']);
    expect(decodeModel(fs.readFileSync(path.join(nhwcDir, 'model.onnx'))).inputs).toEqual([{ name: 'input', shape: ['batch', S, S, 3] }]);
    expectSameLogits(await logitsBoth(smallId, nhwcDir, 16));
  });

  it('resnet-9', async () => {
    const id = await train('resnet-9', 4, 8, 4);
    const dir = path.join(home, 'resnet-9-onnx');
    await exportOnnx(id, dir);
    expectSameLogits(await logitsBoth(id, dir, 8));
  });

  it('wrn-22', async () => {
    const id = await train('wrn-22', 4, 4, 4);
    const dir = path.join(home, 'wrn-22-onnx');
    await exportOnnx(id, dir);
    expectSameLogits(await logitsBoth(id, dir, 4));
  });

  it('an edited architecture: a shallower, narrower wide ResNet with dropout', async () => {
    const spec = path.join(home, 'edited.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        kind: 'wide-resnet',
        name: 'wrn-edited',
        groups: 2,
        blocksPerGroup: 2,
        widthFactor: 2,
        stemChannels: 8,
        dropout: 0.2,
      }),
    );
    const id = await train(spec, 32, 8, 16);
    const dir = path.join(home, 'edited-onnx');
    await exportOnnx(id, dir, ['--layout', 'nhwc']);
    expectSameLogits(await logitsBoth(id, dir, 8));
  });

  it('kiln predict runs the exported model.onnx in ONNX Runtime and agrees with the run', async () => {
    const dir = path.join(home, 'val-png');
    const per = S * S * 3;
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 12; i++) {
      await sharp(Buffer.from(dataset.val.images.subarray(i * per, (i + 1) * per)), { raw: { width: S, height: S, channels: 3 } })
        .png()
        .toFile(path.join(dir, `val-${String(i).padStart(2, '0')}.png`));
    }
    const byOnnx = await kiln(['predict', path.join(smallDir(), 'model.onnx'), dir, '--top', '3', '--json']);
    expect(byOnnx.stderr).toBe('');
    expect(byOnnx.code).toBe(0);
    const onnx = JSON.parse(byOnnx.stdout);
    expect(onnx).toMatchObject({ runtime: 'onnx', runId: smallId, failures: [] });
    const byRun = JSON.parse((await kiln(['predict', smallId, dir, '--top', '3', '--json', '--home', home])).stdout);
    expect(byRun.runtime).toBe('tfjs');
    expect(onnx.predictions).toHaveLength(12);
    onnx.predictions.forEach((p: { file: string; classIndex: number; top: { className: string; probability: number }[] }, i: number) => {
      const q = byRun.predictions[i];
      expect(p.file).toBe(q.file);
      expect(p.classIndex).toBe(q.classIndex);
      expect(p.top.map((t) => t.className)).toEqual(q.top.map((t: { className: string }) => t.className));
      p.top.forEach((t, j) => expect(Math.abs(t.probability - q.top[j].probability)).toBeLessThan(1e-5));
    });
    // The export folder works too, and says which runtime it used.
    const byDir = await kiln(['predict', smallDir(), path.join(dir, 'val-00.png'), '--json']);
    expect(JSON.parse(byDir.stdout).predictions[0].classIndex).toBe(onnx.predictions[0].classIndex);
  });

  it('names the file and what was expected when the input is wrong', async () => {
    const notOnnx = path.join(home, 'not-a-model.onnx');
    fs.writeFileSync(notOnnx, 'hello');
    const bad = await kiln(['predict', notOnnx, path.join(home, 'val-png')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`kiln: ${notOnnx}: `);
    const layout = await kiln(['export', smallId, '--out', path.join(home, 'x'), '--layout', 'nhwc', '--home', home]);
    expect(layout.code).toBe(2);
    expect(layout.stderr.trim()).toBe('kiln: --layout: only with --format onnx');
    const format = await kiln(['export', smallId, '--out', path.join(home, 'x'), '--format', 'pb', '--home', home]);
    expect(format.code).toBe(2);
    expect(format.stderr.trim()).toBe('kiln: --format: expected tfjs or onnx, got "pb"');
  });
});
