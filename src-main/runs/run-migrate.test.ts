import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunStore } from './run-store.ts';
import { RUN_FORMAT } from '../../src-shared/run-types.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-migrate-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

const spec = { kind: 'resnet9', name: 'resnet-9-s', widths: [16, 32, 64, 128], outputScale: 0.125 };
/** A run.json as Kiln wrote it before format 2: auto values 0/−1 in config, what they meant in `resolved`. */
const formatOne = {
  format: 1,
  id: 'old-run',
  name: 'old run',
  status: 'paused',
  config: {
    data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
    aug: { cropPadding: 4, flip: true, cutout: 0, tta: true },
    net: { arch: 'resnet-9-s' },
    opt: { epochs: 0, batchSize: 0, lrMax: 0, schedule: 'one-cycle', shape: 'linear', warmupFraction: 0.25, startDiv: 20, finalDiv: 1000, momentumMax: 0.95, momentumMin: 0.85, nesterov: true, weightDecay: -1, wdExcludeBnBias: false, labelSmoothing: 0.2 },
    backend: 'wasm',
    seed: 3,
  },
  resolved: { epochs: 24, batchSize: 32, lrMax: 0.025, weightDecay: 5e-4, trainCount: 64, valCount: 32, stepsPerEpoch: 2, totalSteps: 48, recipeSource: 'Page' },
  arch: spec,
  dataset: { id: 'synthetic', name: 'synthetic', manifestHash: 'x', classes: ['a', 'b'], train: 64, val: 32 },
  seed: 3,
  versions: { kiln: '0.1.0', tfjs: '4.22.0', node: 'v20' },
  host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, memoryGiB: 8 },
  createdAt: '2026-01-01T00:00:00.000Z',
  progress: { epoch: 1, step: 2, totalSteps: 48 },
  wallSeconds: 1,
};

describe('run.json format 1', () => {
  it('loads as format 2 with the complete config it trained with, and is written back as format 2', async () => {
    const store = new RunStore(home);
    fs.mkdirSync(store.runDir('old-run'), { recursive: true });
    fs.writeFileSync(path.join(store.runDir('old-run'), 'run.json'), JSON.stringify(formatOne));
    const record = await store.get('old-run');
    expect(record.format).toBe(RUN_FORMAT);
    // Settings added since format 1 come in at the value that means "not used" (no frozen epochs).
    const since = { freezeEpochs: 0 };
    expect(record.config).toEqual({ ...formatOne.config, opt: { ...formatOne.config.opt, ...since } });
    // Format 1 used its config as stored except the four auto values, which `resolved` held.
    expect(record.resolved?.config).toEqual({
      ...formatOne.config,
      opt: { ...formatOne.config.opt, ...since, epochs: 24, batchSize: 32, lrMax: 0.025, weightDecay: 5e-4 },
      net: { arch: spec },
    });
    await store.update('old-run', { name: 'renamed' });
    const onDisk = JSON.parse(fs.readFileSync(path.join(store.runDir('old-run'), 'run.json'), 'utf8'));
    expect(onDisk.format).toBe(RUN_FORMAT);
    expect(onDisk.resolved.config.opt.batchSize).toBe(32);
  });

  it('names the file and field when a record of an unknown format is read', async () => {
    const store = new RunStore(home);
    fs.mkdirSync(store.runDir('future-run'), { recursive: true });
    fs.writeFileSync(path.join(store.runDir('future-run'), 'run.json'), JSON.stringify({ ...formatOne, id: 'future-run', format: 99 }));
    await expect(store.get('future-run')).rejects.toThrow(/run\.json: format: /);
  });
});
