import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { loadBackend } from '../backend/load-backend.ts';
import { Model } from '../model/model.ts';
import { Sgd } from '../train/sgd.ts';
import { trainStep } from '../train/train-step.ts';
import { Rng } from '../util/rng.ts';
import { buildGraph, summarize } from './graph.ts';
import { makeDivisible, MOBILENETV2_SPEC, RESNET18_SPEC, RESNET50_SPEC } from './imagenet-archs.ts';
import { DEPTHWISE_CONV } from '../layers/depthwise-conv.ts';
import { tfPad } from '../layers/padding.ts';
import { smoothedCrossEntropy } from '../train/loss.ts';

/** Eight seeded 16 px images, labels alternating 0 and 1: the batch the training checks below learn. */
function fixedBatch(): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new Rng(3, 3);
  return {
    x: tf.tensor4d(
      Float32Array.from({ length: 8 * 16 * 16 * 3 }, () => rng.normal()),
      [8, 16, 16, 3],
    ),
    y: tf.tensor1d(
      Int32Array.from({ length: 8 }, (_, i) => i % 2),
      'int32',
    ),
  };
}

describe('ImageNet architectures', () => {
  it("count torchvision's parameters exactly and keep its shapes at 224 px", () => {
    // torchvision: sum(p.numel() for p in model.parameters()) for resnet18, resnet50, mobilenet_v2.
    const expected: [ArchSpec, number, number[]][] = [
      [RESNET18_SPEC, 11_689_512, [7, 7, 512]],
      [RESNET50_SPEC, 25_557_032, [7, 7, 2048]],
      [MOBILENETV2_SPEC, 3_504_872, [7, 7, 1280]],
    ];
    for (const [spec, params, last] of expected) {
      const g = buildGraph(spec, { imageSize: 224, numClasses: 1000 });
      expect(summarize(g).trainableParams).toBe(params);
      expect(g.layers.find((l) => l.op === 'global-avg-pool')).toBeDefined();
      const pooled = g.layers.findIndex((l) => l.op === 'global-avg-pool');
      expect(g.layers[pooled - 1]!.outputShape).toEqual(last);
    }
    expect([makeDivisible(32 * 0.25), makeDivisible(16 * 0.35), makeDivisible(24 * 1.4)]).toEqual([8, 8, 32]);
  });

  it('train on wasm (depthwise and strided convs, padded max pool, ReLU6): the loss of a fixed batch falls', async () => {
    await loadBackend('wasm', { wasmThreads: 1 });
    const specs: ArchSpec[] = [
      { kind: 'resnet', block: 'bottleneck', blocks: [1, 1, 1, 1], widths: [4, 4, 8, 8], stemChannels: 8 },
      { kind: 'mobilenetv2', widthMultiplier: 0.25, lastChannels: 32, dropout: 0 },
    ];
    // This MobileNetV2 at 16 px ends in 1×1 maps whose batch norm over 8 images makes its loss jump from step to
    // step (a change of 3e-6 in the first loss moves the gradients by 20%): more steps, and the best of them.
    for (const [spec, steps, lr] of [
      [specs[0]!, 8, 0.05],
      [specs[1]!, 12, 0.01],
    ] as const) {
      const model = new Model(buildGraph(spec, { imageSize: 16, numClasses: 2 }), 1);
      const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: false });
      const { x, y } = fixedBatch();
      const losses: number[] = [];
      for (let step = 0; step < steps; step++) {
        const stats = trainStep(model, sgd, x, y, { lr, momentum: 0.9, labelSmoothing: 0, dropoutSeed: step });
        losses.push(stats.dataSync()[0]!);
        stats.dispose();
      }
      expect(losses.every(Number.isFinite), `${spec.kind}: ${losses}`).toBe(true);
      // BN over a batch of 8 at 1×1 late in the net is noisy: the best loss after the first step, not the last.
      expect(Math.min(...losses.slice(1)), `${spec.kind}: ${losses}`).toBeLessThan(0.85 * losses[0]!);
      tf.dispose([x, y]);
      model.dispose();
      sgd.dispose();
    }
  });

  it("MobileNetV2's training gradient, depthwise convs included, equals the one through tfjs's own depthwise gradient kernels (cpu)", async () => {
    await loadBackend('cpu');
    const graph = buildGraph(
      { kind: 'mobilenetv2', widthMultiplier: 0.25, lastChannels: 32, dropout: 0 },
      { imageSize: 16, numClasses: 2 },
    );
    const { x, y } = fixedBatch();
    const gradients = () => {
      const model = new Model(graph, 1);
      const { value, grads } = tf.variableGrads(
        () => smoothedCrossEntropy(model.forward(x, true, 0), y, 0),
        model.params.map((p) => p.variable),
      );
      const out = new Map(model.params.map((p) => [p.name, grads[p.variable.name]!.dataSync() as Float32Array]));
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
      return out;
    };
    const ours = gradients();
    // The cpu backend has DepthwiseConv2dNative's gradient kernels (wasm has none, hence depthwiseForTraining).
    const forward = DEPTHWISE_CONV.forward;
    DEPTHWISE_CONV.forward = (node, ctx) =>
      tf.depthwiseConv2d(ctx.input() as tf.Tensor4D, ctx.param('kernel') as tf.Tensor4D, node.stride, tfPad(node.pad));
    let theirs: typeof ours;
    try {
      theirs = gradients();
    } finally {
      DEPTHWISE_CONV.forward = forward;
    }
    expect([...ours.keys()]).toEqual([...theirs.keys()]);
    // Relative to the gradient's size, or to 1 where it is all but zero (a BN shift whose gradient cancels to ~1e-6).
    for (const [name, g] of ours) {
      const t = theirs.get(name)!;
      const scale = Math.max(1, ...Array.from(t, Math.abs));
      expect(Math.max(...Array.from(g, (v, i) => Math.abs(v - t[i]!))) / scale, name).toBeLessThan(1e-4);
    }
    tf.dispose([x, y]);
  });
});
