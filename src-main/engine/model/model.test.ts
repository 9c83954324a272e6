import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import type { ArchSpec } from '../arch/arch-spec.ts';
import { smoothedCrossEntropy } from '../train/loss.ts';
import { Rng } from '../util/rng.ts';
import { Model } from './model.ts';

/** Loss and all parameter gradients of one training step on a fixed batch. */
async function gradients(spec: ArchSpec, backend: 'cpu' | 'wasm') {
  await loadBackend(backend);
  const model = new Model(buildGraph(spec, { imageSize: 12, numClasses: 5 }), 7);
  const rng = new Rng(3);
  const x = tf.tensor4d(Float32Array.from({ length: 6 * 12 * 12 * 3 }, () => rng.normal()), [6, 12, 12, 3]);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
  const { value, grads } = tf.variableGrads(() => smoothedCrossEntropy(model.forward(x, true), y, 0.1), model.params.map((p) => p.variable));
  const out = new Map<string, Float32Array>();
  for (const p of model.params) out.set(p.name, (await grads[p.variable.name]!.data()) as Float32Array);
  const loss = (await value.data())[0]!;
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return { loss, grads: out };
}

const specs: [string, ArchSpec][] = [
  ['resnet9', { kind: 'resnet9', widths: [4, 6, 8, 8], outputScale: 0.125 }],
  ['wide-resnet with strided shortcuts', { kind: 'wide-resnet', groups: 2, blocksPerGroup: 2, widthFactor: 1, stemChannels: 4, dropout: 0 }],
];

describe('gradient parity', () => {
  it.each(specs)('%s: wasm training kernels give the cpu backend’s gradients', async (_name, spec) => {
    const cpu = await gradients(spec, 'cpu');
    const wasm = await gradients(spec, 'wasm');
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
