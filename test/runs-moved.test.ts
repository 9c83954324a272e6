import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun } from '../src-main/training/create-run.ts';
import { loadDataset } from '../src-main/training/load-dataset.ts';
import { datasetSource } from '../src-main/training/dataset-source.ts';
import { createPets, PETS_CONFIG } from './fixtures/tiny-dataset.ts';

let home: string;
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-moved-'));
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('moved images', () => {
  it('a moved image trains under its new class in the next run; a run made before keeps its label', async () => {
    const store = await createPets(home, 20, 6);
    const config = PETS_CONFIG;
    const before = await createRun(home, config, 'before');
    const listed = await store.setMoved('pets', 'train', 2, 1);
    expect(listed.moved).toEqual({ train: [{ index: 2, from: 0, to: 1 }], val: [] });
    await expect(store.setMoved('pets', 'train', 2, 5)).rejects.toThrow(/class index 5 is out of range/);
    const { classCounts } = await datasetSource(home, 'pets').describe();
    expect(classCounts.train).toEqual([9, 11]);
    const after = await createRun(home, config, 'after');
    expect(before.dataset.excluded).toBeUndefined();
    expect(after.dataset.excluded?.moved?.train).toEqual([{ index: 2, from: 0, to: 1 }]);
    const now = await loadDataset(home, 'pets', after.dataset.excluded);
    expect(now.train.labels[2]).toBe(1);
    expect(now.train.count).toBe(20);
    const earlier = await loadDataset(home, 'pets', before.dataset.excluded);
    expect(earlier.train.labels[2]).toBe(0);
    // Moving it back empties the list; the run made while it was moved keeps its snapshot.
    expect((await store.setMoved('pets', 'train', 2, null)).moved).toBeUndefined();
    expect((await loadDataset(home, 'pets', after.dataset.excluded)).train.labels[2]).toBe(1);
    await fs.promises.writeFile(path.join(home, 'datasets', 'pets', 'moved.json'), '{"train": [{"index": -1}], "val": []}');
    await expect(store.moved('pets')).rejects.toThrow(/moved\.json: expected/);
  });
});
