import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { smoothedCrossEntropy } from '../train/loss.ts';
import { Rng } from '../util/rng.ts';
import { Model } from './model.ts';
import { findPreset } from '../arch/presets.ts';

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
});
