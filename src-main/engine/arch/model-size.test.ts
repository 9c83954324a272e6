import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKilnServices } from '../../app/kiln-services.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../../src-shared/run-config.ts';
import { buildGraph } from './graph.ts';
import { findPreset } from './presets.ts';
import { checkModelSize } from './model-size.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-size-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

// Every field within its own cap; 10¹³ parameters together.
const huge = { kind: 'wide-resnet' as const, groups: 6, blocksPerGroup: 16, widthFactor: 20, stemChannels: 256, dropout: 0 };

describe('model size limits', () => {
  it('the presets at their recipe batch pass; a huge spec and a huge batch are refused, naming the measure', () => {
    for (const id of ['wrn-22', 'resnet-9', 'resnet-9-s']) {
      const p = findPreset(id)!;
      expect(() => checkModelSize(buildGraph(p.spec, { imageSize: 32, numClasses: 10 }), p.recipe.opt.batchSize)).not.toThrow();
    }
    expect(() => checkModelSize(buildGraph(huge, { imageSize: 32, numClasses: 10 }), 1)).toThrow(
      /architecture: 1\.02e\+13 parameters, more than the 500 M Kiln allows/,
    );
    const wrn = buildGraph(findPreset('wrn-22')!.spec, { imageSize: 32, numClasses: 10 });
    expect(() => checkModelSize(wrn, 8192)).toThrow(
      /about 234 GiB of activations at batch size 8192, more than the 48\.0 GiB Kiln allows; use a batch size of at most 1678/,
    );
  });

  it('saving the architecture and starting a run with it are refused before any trainer starts', async () => {
    let spawned = 0;
    const services = await createKilnServices({
      home,
      emit: () => undefined,
      spawner: () => {
        spawned++;
        throw new Error('no trainer should start');
      },
    });
    try {
      await expect(services.handlers['archs.saveCustom']('huge', huge)).rejects.toMatchObject({
        name: 'ModelTooLargeError',
        message: expect.stringMatching(/^architecture "huge": .* parameters/),
      });
      expect(await services.handlers['archs.listCustom']()).toEqual([]);
      const config = mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: huge }, backend: 'wasm' });
      await expect(services.handlers['runs.start'](config)).rejects.toMatchObject({ name: 'ModelTooLargeError' });
      expect(await services.handlers['runs.list']()).toEqual([]);
      expect(spawned).toBe(0);
    } finally {
      await services.shutdown();
    }
  });
});
