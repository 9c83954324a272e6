import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import { Sgd } from '../train/sgd.ts';
import { Model } from './model.ts';

describe('model and optimiser memory', () => {
  it('constructing and disposing a model and its Sgd leaves no tensor behind', async () => {
    await loadBackend('cpu');
    // BN (state variables), convs, the dense head: every kind of initial value a model and Sgd make.
    const graph = buildGraph({ kind: 'resnet9', widths: [4, 6, 8, 8], outputScale: 0.125 }, { imageSize: 8, numClasses: 3 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const model = new Model(graph, 7 + i);
      const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: true });
      // Each variable holds exactly one tensor while alive: parameters, BN running statistics, velocities.
      expect(tf.memory().numTensors - before).toBe(2 * model.params.length + model.state.size);
      expect(model.state.size).toBeGreaterThan(0);
      sgd.dispose();
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
