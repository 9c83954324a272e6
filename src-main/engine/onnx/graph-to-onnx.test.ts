import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { buildGraph } from '../arch/graph.ts';
import { loadBackend } from '../backend/load-backend.ts';
import { Model } from '../model/model.ts';
import { Rng } from '../util/rng.ts';
import { graphToOnnx, hwioToOihw, samePads, type NamedWeight, type OnnxLayout } from './graph-to-onnx.ts';
import { decodeModel } from './onnx-proto.ts';
import { openOnnxSession } from './onnx-runtime.ts';

const MEAN = [0.49, 0.48, 0.45] as const;
const STD = [0.25, 0.24, 0.26] as const;

beforeAll(async () => {
  await loadBackend('cpu');
});

/** A model whose every tensor, BN running statistics included, holds seeded random values. */
function randomModel(spec: ArchSpec, imageSize: number, numClasses: number, seed: number) {
  const graph = buildGraph(spec, { imageSize, numClasses });
  const model = new Model(graph, seed);
  const rng = new Rng(seed, 99);
  for (const [name, v] of model.namedVariables()) {
    const n = v.size;
    const values = name.endsWith('/moving_variance')
      ? Float32Array.from({ length: n }, () => 0.5 + rng.float())
      : name.endsWith('/gamma')
        ? Float32Array.from({ length: n }, () => 0.5 + rng.float())
        : name.endsWith('/kernel')
          ? null
          : Float32Array.from({ length: n }, () => rng.normal() * 0.3);
    if (values) v.assign(tf.tensor(values, v.shape));
  }
  return { graph, model };
}

function weightsOf(model: Model): Map<string, NamedWeight> {
  return new Map([...model.namedVariables()].map(([k, v]) => [k, { data: v.dataSync() as Float32Array, shape: v.shape }]));
}

/** Kiln's logits on normalised NHWC images against ONNX Runtime's on the raw 0..1 images in `layout`. */
async function compare(spec: ArchSpec, imageSize: number, layout: OnnxLayout, n = 3) {
  const { graph, model } = randomModel(spec, imageSize, 7, 5);
  const bytes = graphToOnnx(graph, weightsOf(model), { layout, mean: MEAN, std: STD, producerVersion: 'test' });
  const S = imageSize;
  const rng = new Rng(11, 1);
  const raw = Float32Array.from({ length: n * S * S * 3 }, () => rng.float());
  const normalised = raw.map((v, i) => (v - MEAN[i % 3]!) / STD[i % 3]!);
  const kiln = tf.tidy(() => model.forward(tf.tensor4d(normalised, [n, S, S, 3]), false)).dataSync();
  let input = raw;
  if (layout === 'nchw') {
    input = new Float32Array(raw.length);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) input[(b * 3 + c) * S * S + p] = raw[(b * S * S + p) * 3 + c]!;
  }
  const session = await openOnnxSession(bytes);
  const onnx = await session.run(input, layout === 'nchw' ? [n, 3, S, S] : [n, S, S, 3]);
  await session.release();
  model.dispose();
  let worst = 0;
  let scale = 0;
  kiln.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - onnx[i]!));
    scale = Math.max(scale, Math.abs(v));
  });
  return { worst, scale, bytes, length: onnx.length };
}

describe('graph to ONNX', () => {
  it('pads as TensorFlow\'s "same" does, the odd pixel after', () => {
    expect(samePads(32, 3, 1)).toEqual([1, 1]);
    expect(samePads(32, 3, 2)).toEqual([0, 1]);
    expect(samePads(31, 3, 2)).toEqual([1, 1]);
    expect(samePads(32, 1, 2)).toEqual([0, 0]);
    expect(samePads(7, 5, 1)).toEqual([2, 2]);
  });

  it('reorders conv kernels from HWIO to OIHW', () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const { data: out, shape } = hwioToOihw({ data, shape: [2, 3, 4, 5] });
    expect(shape).toEqual([5, 4, 2, 3]);
    // [o=3, i=2, y=1, x=2] comes from [y=1, x=2, i=2, o=3].
    expect(out[((3 * 4 + 2) * 2 + 1) * 3 + 2]).toBe(data[((1 * 3 + 2) * 4 + 2) * 5 + 3]);
  });

  it('matches the Kiln model in ONNX Runtime: ResNet-9 shape, odd image size, NCHW and NHWC', async () => {
    const spec: ArchSpec = { kind: 'resnet9', widths: [4, 8, 8, 12], outputScale: 0.125 };
    for (const layout of ['nchw', 'nhwc'] as const) {
      const { worst, scale, length } = await compare(spec, 17, layout);
      expect(length).toBe(3 * 7);
      expect(scale).toBeGreaterThan(0.01);
      expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
    }
  });

  it('matches for a wide ResNet with dropout and strided shortcuts, and describes itself', async () => {
    const spec: ArchSpec = { kind: 'wide-resnet', groups: 3, blocksPerGroup: 2, widthFactor: 2, stemChannels: 4, dropout: 0.3 };
    const { worst, scale, bytes } = await compare(spec, 15, 'nchw', 2);
    expect(scale).toBeGreaterThan(0.01);
    expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
    const info = decodeModel(bytes);
    expect(info).toMatchObject({ irVersion: 8, opset: 17, producerName: 'Kiln' });
    expect(info.inputs).toEqual([{ name: 'input', shape: ['batch', 3, 15, 15] }]);
    expect(info.outputs).toEqual([{ name: 'logits', shape: ['batch', 7] }]);
    // Dropout is the identity at inference: no node for it.
    expect(new Set(info.opTypes)).toEqual(
      new Set(['Sub', 'Div', 'Conv', 'BatchNormalization', 'Relu', 'Add', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Identity']),
    );
  });

  it('matches for depthwise-separable convolutions (grouped Conv + 1×1 Conv)', async () => {
    const spec: ArchSpec = { kind: 'resnet9', widths: [4, 8, 8, 12], outputScale: 0.125, conv: 'separable' };
    const { worst, scale, bytes } = await compare(spec, 16, 'nhwc', 2);
    expect(decodeModel(bytes).opTypes.filter((t) => t === 'Conv').length).toBe(2 * 8);
    expect(scale).toBeGreaterThan(0.01);
    expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
  });

  it('matches for the ImageNet backbones: PyTorch padding at stride 2, padded max pool, depthwise convs, ReLU6', async () => {
    const resnet: ArchSpec = { kind: 'resnet', block: 'bottleneck', blocks: [1, 2, 1, 1], widths: [4, 4, 8, 8], stemChannels: 4 };
    const mobilenet: ArchSpec = { kind: 'mobilenetv2', widthMultiplier: 0.25, lastChannels: 16, dropout: 0.2 };
    // Odd sizes: PyTorch's symmetric padding and TensorFlow's "same" disagree there.
    for (const [spec, size] of [
      [resnet, 37],
      [mobilenet, 35],
    ] as const) {
      const { worst, scale, bytes } = await compare(spec, size, 'nchw', 2);
      expect(scale).toBeGreaterThan(0.01);
      expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
      const ops = new Set(decodeModel(bytes).opTypes);
      expect(ops.has(spec.kind === 'resnet' ? 'MaxPool' : 'Clip')).toBe(true);
    }
  });

  it('names a missing weight', () => {
    const graph = buildGraph({ kind: 'resnet9', widths: [4, 4, 4, 4], outputScale: 1 }, { imageSize: 8, numClasses: 2 });
    expect(() => graphToOnnx(graph, new Map(), { layout: 'nchw', mean: MEAN, std: STD, producerVersion: 'test' })).toThrow(
      'onnx: no weights named prep/conv/kernel',
    );
  });
});
