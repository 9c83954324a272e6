import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeImage } from '../src-main/datasets/decode-image.ts';
import { assignWeights, loadBackboneWeights } from '../src-main/engine/backbones/load-weights.ts';
import { backboneGraph, findBackbone } from '../src-main/engine/backbones/registry.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { relativeError } from '../src-main/engine/testing/tensor-compare.ts';
import { backboneDecodeOptions, IMAGENET_CLASS_NAMES } from '../src-main/training/imagenet-model.ts';
import { Rng } from '../src-main/engine/util/rng.ts';
import { cliInProcess } from './fixtures/cli-in-process.ts';
import { PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';
import { torchTensorsOfBackbone, writeSafetensors } from './fixtures/safetensors-writer.ts';

/**
 * `kiln predict imagenet:NAME` end to end on a full-size MobileNetV2 (seeded random weights, added --unverified):
 * the top-5 by ImageNet class name, --json's 1000 logits equal to the engine's forward pass on the image resized as
 * the backbone's config says, and the unverified weights reported. (The PyTorch parity of the weights mapping is
 * test/backbones-parity.test.ts; of the whole chain, a by-hand check with make-backbones.py --full.)
 */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-imagenet-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('kiln predict imagenet:NAME', () => {
  it('prints the top-5 ImageNet classes and, with --json, the 1000 logits of the image resized as the config says', async () => {
    expect(IMAGENET_CLASS_NAMES).toHaveLength(1000);
    expect([IMAGENET_CLASS_NAMES[0], IMAGENET_CLASS_NAMES[207], IMAGENET_CLASS_NAMES[999]]).toEqual([
      'tench',
      'golden retriever',
      'toilet tissue',
    ]);
    const home = path.join(tmp, 'home');
    const weights = path.join(tmp, 'mobilenetv2.safetensors');
    const rng = new Rng(4, 2);
    writeSafetensors(weights, torchTensorsOfBackbone('mobilenetv2'), (name, n) =>
      Float32Array.from({ length: n }, () =>
        name.endsWith('running_var')
          ? 0.5 + rng.float()
          : name.endsWith('bn.weight')
            ? 1
            : rng.normal() * (name.includes('conv') || name.endsWith('.weight') ? 0.2 : 0.05),
      ),
    );
    const image = path.join(tmp, 'photo.png');
    const w = 300;
    const h = 200;
    const pixels = Buffer.from(Uint8Array.from({ length: w * h * 3 }, (_, i) => ((i % (w * 3)) * 7 + Math.floor(i / (w * 3)) * 3) % 256));
    await sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(image);

    const added = await cliInProcess(['backbone', 'add', 'mobilenetv2', weights, '--unverified', '--home', home]);
    expect(added.code).toBe(0);
    const human = await cliInProcess(['predict', 'imagenet:mobilenetv2', image, '--home', home]);
    expect(human.code).toBe(0);
    const line = human.stdout.split('\n').find((l) => l.startsWith(image))!;
    expect(line.split(', ')).toHaveLength(5);
    expect(human.stderr).toContain('ran unverified weights');

    const json = await cliInProcess(['predict', 'imagenet:mobilenetv2', image, '--home', home, '--json']);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as {
      weights: { verified: boolean };
      predictions: { classIndex: number; top: { className: string }[]; logits: number[] }[];
    };
    expect(result.weights.verified).toBe(false);
    const [p] = result.predictions;
    expect(p!.logits).toHaveLength(1000);
    expect(p!.top).toHaveLength(5);
    expect(p!.top[0]!.className).toBe(IMAGENET_CLASS_NAMES[p!.classIndex]);

    // The engine's forward pass on the image as the backbone's config resizes it: 224 px centre crop of the short side at 256.
    const backbone = findBackbone('mobilenetv2')!;
    const opts = backboneDecodeOptions(backbone);
    expect(opts).toMatchObject({ size: 224, scaleTo: 256, kernel: 'cubic' });
    const bytes = await decodeImage(image, opts);
    const graph = backboneGraph(backbone);
    const model = new Model(graph, 1);
    assignWeights(model, await loadBackboneWeights(weights, backbone, graph));
    const { mean, std } = backbone.preprocess;
    const x = Float32Array.from(bytes, (v, i) => (v / 255 - mean[i % 3]!) / std[i % 3]!);
    const logits = tf.tidy(() => model.forward(tf.tensor4d(x, [1, 224, 224, 3]), false));
    expect(relativeError(p!.logits, logits.dataSync())).toBeLessThan(1e-4);
    logits.dispose();
    model.dispose();
  });

  it('says how to get weights that are not stored', async () => {
    const r = await cliInProcess(['predict', 'imagenet:resnet50', path.join(tmp, 'photo.png'), '--home', path.join(tmp, 'empty')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run `kiln backbone get resnet50`');
    const typo = await cliInProcess(['predict', 'imagenet:resnet19', path.join(tmp, 'photo.png'), '--home', path.join(tmp, 'empty')]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown backbone "resnet19"');
  });
});
