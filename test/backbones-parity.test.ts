import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArchSpec } from '../src-shared/arch-spec.ts';
import { buildGraph, type Graph } from '../src-main/engine/arch/graph.ts';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { assignWeights, loadBackboneWeights } from '../src-main/engine/backbones/load-weights.ts';
import { timmMobileNetV2Name } from '../src-main/engine/backbones/registry.ts';
import { SafetensorsFile } from '../src-main/engine/backbones/safetensors.ts';
import { buildLayersModel } from '../src-main/engine/model/layers-model.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { graphToOnnx } from '../src-main/engine/onnx/graph-to-onnx.ts';
import { openOnnxSession } from '../src-main/engine/onnx/onnx-runtime.ts';
import { relativeError } from '../src-main/engine/testing/tensor-compare.ts';

/**
 * Kiln's backbones against PyTorch: test/fixtures/backbones/make-backbones.py builds torchvision's ResNet-18,
 * ResNet-50 and MobileNetV2 (reduced widths, same module names and strides) with seeded random weights, BN statistics
 * included, and writes their weights (F32, F16, BF16; MobileNetV2 also under timm's names) and logits for an input
 * batch. Kiln loads the weights through the PyTorch → Kiln mapping and must give the same logits, in its own
 * forward pass, in the tfjs-layers export and in the ONNX export.
 */

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'backbones');
const SIZE = 48;
const CLASSES = 10;

const CASES: { file: string; io: string; spec: ArchSpec; rename?: (n: string) => string }[] = [
  {
    file: 'resnet18-mini',
    io: 'resnet18-mini',
    spec: { kind: 'resnet', block: 'basic', blocks: [2, 2, 2, 2], widths: [4, 8, 16, 32], stemChannels: 4 },
  },
  {
    file: 'resnet50-mini',
    io: 'resnet50-mini',
    spec: { kind: 'resnet', block: 'bottleneck', blocks: [3, 4, 6, 3], widths: [4, 8, 16, 32], stemChannels: 4 },
  },
  {
    file: 'mobilenetv2-mini',
    io: 'mobilenetv2-mini',
    spec: { kind: 'mobilenetv2', widthMultiplier: 0.25, lastChannels: 64, dropout: 0.2 },
  },
  {
    file: 'mobilenetv2-mini-timm',
    io: 'mobilenetv2-mini',
    spec: { kind: 'mobilenetv2', widthMultiplier: 0.25, lastChannels: 64, dropout: 0.2 },
    rename: timmMobileNetV2Name,
  },
];

beforeAll(async () => {
  await loadBackend('cpu');
});

/** The fixture's input batch as NHWC, and PyTorch's logits for it. */
async function io(name: string): Promise<{ x: tf.Tensor4D; logits: Float32Array; n: number }> {
  const f = await SafetensorsFile.read(path.join(FIXTURES, `${name}.io.safetensors`));
  const [n, c, h, w] = f.entry('input').shape as [number, number, number, number];
  const nchw = f.float32('input');
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
  return { x, logits: f.float32('logits'), n };
}

async function loaded(c: (typeof CASES)[number], graph: Graph = buildGraph(c.spec, { imageSize: SIZE, numClasses: CLASSES })) {
  const weights = await loadBackboneWeights(path.join(FIXTURES, `${c.file}.safetensors`), { torchName: c.rename }, graph);
  const model = new Model(graph, 1);
  assignWeights(model, weights);
  return { graph, model, weights };
}

/** The same spec's graph with every BN's epsilon or every conv's padding changed, as a wrong port would have it. */
function altered(spec: ArchSpec, change: 'epsilon' | 'padding'): Graph {
  const g = buildGraph(spec, { imageSize: SIZE, numClasses: CLASSES });
  const nodes = g.nodes.map((n) =>
    change === 'epsilon' && n.op === 'bn'
      ? { ...n, epsilon: 1e-3 }
      : change === 'padding' && (n.op === 'conv' || n.op === 'dwconv')
        ? { ...n, pad: undefined }
        : n,
  );
  return { ...g, nodes };
}

describe('ImageNet backbones match PyTorch', () => {
  for (const c of CASES) {
    it(`${c.file}: Kiln's forward pass, the tfjs-layers export and the ONNX export give PyTorch's logits`, async () => {
      const { x, logits: reference, n } = await io(c.io);
      const { graph, model, weights } = await loaded(c);
      const kiln = tf.tidy(() => model.forward(x, false));
      expect(kiln.shape).toEqual([n, CLASSES]);
      expect(relativeError(kiln.dataSync(), reference)).toBeLessThan(1e-4);

      const layers = buildLayersModel(graph, new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)])));
      const exported = tf.tidy(() => layers.predict(x) as tf.Tensor);
      expect(relativeError(exported.dataSync(), reference)).toBeLessThan(1e-4);

      // ONNX: no normalisation folded in (mean 0, std 1): the fixture's input is already normalised.
      const bytes = graphToOnnx(graph, weights, { layout: 'nhwc', mean: [0, 0, 0], std: [1, 1, 1], producerVersion: 'test' });
      const session = await openOnnxSession(bytes);
      const onnx = await session.run(x.dataSync() as Float32Array, [n, SIZE, SIZE, 3]);
      await session.release();
      expect(relativeError(onnx, reference)).toBeLessThan(1e-4);
      tf.dispose([x, kiln, exported]);
      layers.dispose();
      model.dispose();
    });
  }

  it('fails the comparison with TensorFlow\'s "same" padding or a BN epsilon of 1e-3', async () => {
    for (const c of [CASES[0]!, CASES[2]!]) {
      const { x, logits: reference } = await io(c.io);
      for (const change of ['padding', 'epsilon'] as const) {
        const { model } = await loaded(c, altered(c.spec, change));
        const out = tf.tidy(() => model.forward(x, false));
        expect(relativeError(out.dataSync(), reference), `${c.file} with ${change} changed`).toBeGreaterThan(1e-3);
        tf.dispose(out);
        model.dispose();
      }
      x.dispose();
    }
  });

  it('refuses a file that does not fit, naming the file and the tensors', async () => {
    const other = buildGraph(CASES[1]!.spec, { imageSize: SIZE, numClasses: CLASSES });
    const file = path.join(FIXTURES, 'resnet18-mini.safetensors');
    const err = await loadBackboneWeights(file, {}, other).catch((e: Error) => e);
    expect((err as Error).message).toContain(`${file}: does not fit the architecture: `);
    expect((err as Error).message).toContain('missing tensor layer1.0.conv3.weight (for layer1/0/conv3/kernel, shape [16,4,1,1])');
    const wider = buildGraph(
      { ...(CASES[0]!.spec as ArchSpec & { kind: 'resnet' }), stemChannels: 8 },
      { imageSize: SIZE, numClasses: CLASSES },
    );
    await expect(loadBackboneWeights(file, {}, wider)).rejects.toThrow(
      'tensor conv1.weight has shape [4,3,7,7], the architecture expects [8,3,7,7]',
    );
    // Without timm's names mapped, timm's file fits nothing.
    const mobile = buildGraph(CASES[2]!.spec, { imageSize: SIZE, numClasses: CLASSES });
    await expect(loadBackboneWeights(path.join(FIXTURES, 'mobilenetv2-mini-timm.safetensors'), {}, mobile)).rejects.toThrow(
      /unexpected tensor conv_stem\.weight|missing tensor features\.0\.0\.weight/,
    );
  });

  it('loads the body alone for a new head', async () => {
    const graph = buildGraph(CASES[0]!.spec, { imageSize: SIZE, numClasses: 3 });
    const weights = await loadBackboneWeights(path.join(FIXTURES, 'resnet18-mini.safetensors'), {}, graph, {
      skip: new Set(['fc/kernel', 'fc/bias']),
    });
    expect(weights.has('fc/kernel')).toBe(false);
    expect(weights.get('conv1/kernel')!.shape).toEqual([7, 7, 3, 4]);
  });
});
