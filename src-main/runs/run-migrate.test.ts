import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunStore } from './run-store.ts';
import { compareRuns } from './compare-runs.ts';
import { runArchLabel } from './run-id.ts';
import { RUN_FORMAT } from '../../src-shared/run-types.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-migrate-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

const spec = { kind: 'resnet9', name: 'resnet-9-s', widths: [16, 32, 64, 128], outputScale: 0.125 };
/** The request as formats 1 and 2 stored it: auto spelt 0 (epochs, batch, LR) and −1 (weight decay). */
const oldRequest = {
  data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
  aug: { cropPadding: 4, flip: true, cutout: 0, tta: true },
  net: { arch: 'resnet-9-s' },
  opt: {
    epochs: 0,
    batchSize: 0,
    lrMax: 0,
    schedule: 'one-cycle',
    shape: 'linear',
    warmupFraction: 0.25,
    startDiv: 20,
    finalDiv: 1000,
    momentumMax: 0.95,
    momentumMin: 0.85,
    nesterov: true,
    weightDecay: -1,
    wdExcludeBnBias: false,
    labelSmoothing: 0.2,
  },
  backend: 'wasm',
  seed: 3,
};
/** The same request as format 3 reads it: null is the one auto; settings added since come in at "not used". */
const request = {
  ...oldRequest,
  opt: { ...oldRequest.opt, epochs: null, batchSize: null, lrMax: null, weightDecay: null, freezeEpochs: 0 },
};
/** What the run trained with: the request with the four auto values filled, and the spec it built. */
const trained = {
  ...oldRequest,
  opt: { ...oldRequest.opt, epochs: 24, batchSize: 32, lrMax: 0.025, weightDecay: 5e-4, freezeEpochs: 0 },
  net: { arch: spec },
};
const common = {
  name: 'old run',
  status: 'paused',
  dataset: { id: 'synthetic', name: 'synthetic', manifestHash: 'x', classes: ['a', 'b'], train: 64, val: 32 },
  versions: { kiln: '0.1.0', tfjs: '4.22.0', node: 'v20' },
  host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, memoryGiB: 8 },
  createdAt: '2026-01-01T00:00:00.000Z',
  progress: { epoch: 1, step: 2, totalSteps: 48 },
  wallSeconds: 1,
  notes: 'kept across the migration',
};
const flat = { epochs: 24, batchSize: 32, lrMax: 0.025, weightDecay: 5e-4, stepsPerEpoch: 2 };

/** A record of each earlier format Kiln wrote (and the hand-made ones its tests wrote). */
const EARLIER: Record<string, Record<string, unknown>> = {
  // Format 1 (Nov 29): the four auto values and the counts in `resolved`, the spec in `arch`.
  'format-1': {
    ...common,
    format: 1,
    config: oldRequest,
    arch: spec,
    seed: 3,
    resolved: { ...flat, trainCount: 64, valCount: 32, totalSteps: 48, recipeSource: 'Page' },
  },
  // Format 1 before `resolved` carried its counts: they come from the dataset and the steps.
  'format-1-bare': { ...common, format: 1, config: oldRequest, arch: spec, seed: 3, resolved: { ...flat } },
  // Format 2 (Nov 30): the whole resolved config in `resolved.config`, flat values beside it.
  'format-2': {
    ...common,
    format: 2,
    config: oldRequest,
    arch: spec,
    seed: 3,
    resolved: {
      ...flat,
      config: trained,
      presetId: 'resnet-9-s',
      recipeSource: 'Page',
      trainCount: 64,
      valCount: 32,
      totalSteps: 48,
      autoRules: ["batch 32: the recipe's"],
    },
  },
  // Format 2 as tests wrote it, without `resolved.config`: rebuilt as for format 1.
  'format-2-flat': {
    ...common,
    format: 2,
    config: oldRequest,
    arch: spec,
    seed: 3,
    resolved: { ...flat, trainCount: 64, valCount: 32, totalSteps: 48 },
  },
};

function put(store: RunStore, id: string, record: unknown): void {
  fs.mkdirSync(store.runDir(id), { recursive: true });
  fs.writeFileSync(path.join(store.runDir(id), 'run.json'), JSON.stringify(record));
}

describe('run.json of every earlier format', () => {
  for (const [id, old] of Object.entries(EARLIER)) {
    it(`${id}: reads as format ${RUN_FORMAT} with the request and the frozen config it trained with, and is written back so`, async () => {
      const store = new RunStore(home);
      put(store, id, { ...old, id });
      const record = await store.get(id);
      expect(record.format).toBe(RUN_FORMAT);
      expect(record.request).toEqual(request);
      expect(record.resolved.config).toEqual(trained);
      expect(record.resolved).toMatchObject({ trainCount: 64, valCount: 32, stepsPerEpoch: 2, totalSteps: 48 });
      expect(record.resolved.recipeSource).toBe(
        id === 'format-2' || id === 'format-1' ? 'Page' : `unknown (a format ${old.format} run record)`,
      );
      expect(record.notes).toBe('kept across the migration');
      // The readers take the frozen config: the runs table's label, a comparison's settings.
      expect(runArchLabel(record)).toBe('resnet-9-s');
      const empty = { steps: [], epochs: [], tornTail: false };
      const diff = compareRuns([
        { record, metrics: empty },
        {
          record: { ...record, id: 'other', resolved: { ...record.resolved, config: { ...record.resolved.config, seed: 4 } } },
          metrics: empty,
        },
      ]).configDiff;
      expect(diff.map((d) => d.path)).toEqual(['seed']);

      await store.update(id, { name: 'renamed' });
      const onDisk = JSON.parse(fs.readFileSync(path.join(store.runDir(id), 'run.json'), 'utf8'));
      expect(onDisk.format).toBe(RUN_FORMAT);
      // One config: no top-level arch or seed, no request under `config`, no flat copies of resolved values.
      expect(Object.keys(onDisk)).not.toContain('arch');
      expect(Object.keys(onDisk)).not.toContain('seed');
      expect(Object.keys(onDisk)).not.toContain('config');
      expect(Object.keys(onDisk.resolved).sort()).toEqual(
        [
          'autoRules',
          'config',
          'recipeSource',
          'stepsPerEpoch',
          'totalSteps',
          'trainCount',
          'valCount',
          ...(id === 'format-2' ? ['presetId'] : []),
        ].sort(),
      );
      expect(onDisk.request.opt.epochs).toBeNull();
      expect(onDisk.resolved.config.opt.batchSize).toBe(32);
      expect(await store.get(id)).toEqual({ ...record, name: 'renamed' });
    });
  }

  it('names the file and field when a record has no resolved config at all, or is of an unknown format', async () => {
    const store = new RunStore(home);
    const { resolved: _r, ...bare } = EARLIER['format-1']!;
    put(store, 'no-resolved', { ...bare, id: 'no-resolved' });
    await expect(store.get('no-resolved')).rejects.toThrow(/no-resolved[/\\]run\.json: resolved: /);
    put(store, 'future-run', { ...EARLIER['format-2'], id: 'future-run', format: 99 });
    await expect(store.get('future-run')).rejects.toThrow(/run\.json: format: /);
  });

  it('keeps the request and the resolved config frozen: update() refuses to change them', async () => {
    const store = new RunStore(home);
    put(store, 'frozen', { ...EARLIER['format-2'], id: 'frozen' });
    const record = await store.get('frozen');
    const changed = { ...record.resolved, config: { ...record.resolved.config, seed: 9 } };
    await expect(store.update('frozen', { resolved: changed } as never)).rejects.toThrow(
      /run frozen: resolved is fixed when the run is created/,
    );
    await expect(store.update('frozen', () => ({ request: { ...record.request, seed: 9 } }) as never)).rejects.toThrow(/request is fixed/);
    // The same values are no change, and other fields still update.
    expect((await store.update('frozen', { resolved: record.resolved, status: 'stopped' } as never)).status).toBe('stopped');
    expect((await store.get('frozen')).resolved.config.seed).toBe(3);
  });
});
