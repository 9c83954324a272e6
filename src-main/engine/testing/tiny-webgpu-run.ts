import type { RunConfigPatch } from '../../../src-shared/run-config.ts';

/**
 * The run the WebGPU tests train (Dawn for Node in webgpu-backend.test.ts, Chromium's in test/gpu-page.test.ts):
 * a resnet-9 of width 8 on two 16 px shapes, separable in a few dozen steps, which is all a software adapter can
 * afford. Every setting is given, not left to the recipe a custom spec inherits (Page's: 8 px cutout, a 1e4
 * warm-up divisor).
 */
export const TINY_WEBGPU_RUN = {
  opt: {
    epochs: 2,
    batchSize: 16,
    lrMax: 0.2,
    labelSmoothing: 0,
    weightDecay: 5e-4,
    warmupFraction: 0.25,
    startDiv: 20,
    finalDiv: 1000,
    momentumMax: 0.95,
    momentumMin: 0.85,
  },
  net: { arch: { kind: 'resnet9', widths: [8, 8, 8, 8], outputScale: 1 } },
  aug: { tta: false, cropPadding: 0, flip: false, cutout: 0 },
  seed: 3,
  backend: 'webgpu',
} satisfies RunConfigPatch;
