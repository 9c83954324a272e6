import fs from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKilnServices } from '../src-main/app/kiln-services.ts';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { kiln, PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';
import { createRun, fakeEpoch, fakeSteps, tempHome } from './fixtures/runs-fixtures.ts';

/** Deleting a dataset that runs used asks first and names them; the runs keep their metrics and say what is gone. */
vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const home = tempHome();
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

async function tinyDataset(id: string) {
  const S = 8;
  const split = (count: number) => ({
    count,
    images: new Uint8Array(count * S * S * 3).map((_, i) => (i * 37) % 256),
    labels: new Uint8Array(count).map((_, i) => i % 2),
  });
  return new DatasetStore(home).create({
    id,
    name: 'Tiny shapes',
    source: { kind: 'cifar10', url: 'https://example.invalid/tiny.tar.gz', checksum: null },
    imageSize: S,
    classes: ['a', 'b'],
    train: split(4),
    val: split(2),
  });
}

describe('datasets in use', () => {
  it('delete names the runs and needs confirming; afterwards the runs keep their metrics and say plainly what is unavailable', async () => {
    const manifest = await tinyDataset('tiny');
    const store = new RunStore(home);
    const run = await createRun(
      store,
      { data: { dataset: 'tiny', limitTrain: 0, limitVal: 0 } },
      {
        name: 'first try',
        status: 'paused',
        dataset: { id: 'tiny', name: manifest.name, manifestHash: 'sha256:' + '0'.repeat(64), classes: manifest.classes, train: 4, val: 2 },
      },
    );
    await store.appendMetrics(run.id, [...fakeSteps(1, 4, 4), fakeEpoch(0, 4, 0.5)]);
    await store.flushMetrics(run.id);
    const services = await createKilnServices({ home, emit: () => undefined });
    try {
      expect(await services.handlers['datasets.usage']('tiny')).toEqual({ runs: [{ id: run.id, name: 'first try', status: 'paused' }] });
      await expect(services.handlers['datasets.remove']('tiny')).rejects.toMatchObject({
        name: 'DatasetInUseError',
        message:
          'dataset "tiny" was used by 1 run: "first try". Deleting it keeps their metrics and checkpoints, but their mistake images, evaluation, "try a picture" and resume will be unavailable; confirm to delete it anyway',
      });
      expect((await services.handlers['datasets.list']()).map((d) => d.id)).toContain('tiny');

      const cli = await kiln(['dataset', 'rm', 'tiny', '--home', home]);
      expect(cli.code).not.toBe(0);
      expect(cli.stderr).toContain('dataset "tiny" was used by 1 run: "first try"');
      expect(cli.stderr).toContain('add --force to delete it anyway');

      await services.handlers['datasets.remove']('tiny', { force: true });
      expect((await services.handlers['datasets.list']()).map((d) => d.id)).not.toContain('tiny');
      const metrics = await services.handlers['runs.metrics'](run.id);
      expect(metrics.steps).toHaveLength(4);
      expect(metrics.epochs).toHaveLength(1);
      const gone = `run "first try" was trained on dataset "Tiny shapes" (tiny), which has been deleted: its metrics and checkpoints remain, but`;
      await expect(services.handlers['runs.evaluate'](run.id)).rejects.toThrow(`${gone} evaluating it needs the dataset`);
      await expect(services.handlers['runs.predict'](run.id, 'AAAA')).rejects.toThrow(`${gone} trying a picture needs the dataset`);
      await expect(services.handlers['runs.resume'](run.id)).rejects.toThrow(`${gone} resuming it needs the dataset`);
    } finally {
      await services.shutdown();
    }
  });
});
