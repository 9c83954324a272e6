import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { smoothedCrossEntropy } from '../train/loss.ts';
import { Rng } from '../util/rng.ts';
import { Model } from './model.ts';
import { findPreset } from '../arch/presets.ts';
import { layerOf } from '../layers/registry.ts';
import { BN } from '../layers/bn.ts';
import { RELU } from '../layers/relu.ts';
import type { ForwardContext } from '../layers/layer-module.ts';

/** Loss and all parameter gradients of one training step on a fixed batch. */
async function gradients(spec: ArchSpec, backend: 'cpu' | 'wasm', size: number) {
  await loadBackend(backend);
  const model = new Model(buildGraph(spec, { imageSize: size, numClasses: 5 }), 7);
  const rng = new Rng(3);
  const x = tf.tensor4d(
    Float32Array.from({ length: 6 * size * size * 3 }, () => rng.normal()),
    [6, size, size, 3],
  );
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
  const { value, grads } = tf.variableGrads(
    () => smoothedCrossEntropy(model.forward(x, true), y, 0.1),
    model.params.map((p) => p.variable),
  );
  const out = new Map<string, Float32Array>();
  for (const p of model.params) out.set(p.name, (await grads[p.variable.name]!.data()) as Float32Array);
  const loss = (await value.data())[0]!;
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return { loss, grads: out };
}

const specs: [string, ArchSpec, number][] = [
  ['resnet9', { kind: 'resnet9', widths: [4, 6, 8, 8], outputScale: 0.125 }, 12],
  [
    'wide-resnet with strided shortcuts',
    { kind: 'wide-resnet', groups: 2, blocksPerGroup: 2, widthFactor: 1, stemChannels: 4, dropout: 0 },
    12,
  ],
  // The wrn-22 preset's depth, blocks, stem and shortcuts, at width factor 1 (16/32/64 channels) so cpu stays quick.
  ['wrn-22 at width 1', { ...(findPreset('wrn-22')!.spec as Extract<ArchSpec, { kind: 'wide-resnet' }>), widthFactor: 1 }, 8],
];

describe('gradient parity', () => {
  it.each(specs)('%s: wasm training kernels give the cpu backend’s gradients', async (_name, spec, size) => {
    const cpu = await gradients(spec, 'cpu', size);
    const wasm = await gradients(spec, 'wasm', size);
    expect(wasm.loss).toBeCloseTo(cpu.loss, 5);
    for (const [name, expected] of cpu.grads) {
      const got = wasm.grads.get(name)!;
      let maxErr = 0;
      let scale = 0;
      for (let i = 0; i < expected.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(got[i]! - expected[i]!));
        scale = Math.max(scale, Math.abs(expected[i]!));
      }
      expect(maxErr / Math.max(scale, 1e-6), name).toBeLessThan(1e-4);
    }
  });

  it('runs fused in training exactly the BNs that only a ReLU reads, and those ReLUs (LayerModule.absorbs)', async () => {
    await loadBackend('cpu');
    // A torchvision-style basic-block ResNet: conv-BN-ReLU pairs, and second BNs that a residual add reads.
    const graph = buildGraph(
      { kind: 'resnet', block: 'basic', blocks: [1, 1, 1, 1], widths: [4, 4, 8, 8], stemChannels: 8 },
      { imageSize: 32, numClasses: 2 },
    );
    const readers = new Map<string, string[]>();
    for (const n of graph.nodes) for (const i of layerOf(n).inputs(n)) readers.set(i, [...(readers.get(i) ?? []), n.name]);
    const ops = new Map(graph.nodes.map((n) => [n.name, n.op]));
    const want = new Set<string>();
    for (const n of graph.nodes) {
      const r = readers.get(n.name) ?? [];
      if (n.op === 'bn' && r.length === 1 && ops.get(r[0]!) === 'relu') want.add(n.name).add(r[0]!);
    }
    // Both kinds occur: fused pairs, and BNs read by something else (a residual add).
    expect(want.size).toBeGreaterThan(0);
    expect(graph.nodes.some((n) => n.op === 'bn' && !want.has(n.name))).toBe(true);
    const seen = new Map<string, boolean>();
    const spy = <N extends { name: string }>(m: { forward: (node: N, ctx: ForwardContext) => tf.Tensor }) => {
      const forward = m.forward;
      m.forward = (node, ctx) => (seen.set(node.name, ctx.fused), forward(node, ctx));
      return () => void (m.forward = forward);
    };
    const restore = [spy(BN), spy(RELU)];
    const model = new Model(graph, 1);
    try {
      tf.tidy(() => model.forward(tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D, true));
    } finally {
      for (const r of restore) r();
      model.dispose();
    }
    expect(new Set([...seen].filter(([, f]) => f).map(([n]) => n))).toEqual(want);
  });
});
