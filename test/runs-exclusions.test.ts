import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun } from '../src-main/training/create-run.ts';
import { loadCurrentDataset, loadDataset } from '../src-main/training/load-dataset.ts';
import { createPets, PETS_CONFIG } from './fixtures/tiny-dataset.ts';

let home: string;
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-excl-'));
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('excluded images', () => {
  it('a new run snapshots the exclusion list and trains without those images; runs made before keep all', async () => {
    const store = await createPets(home, 40, 10);
    const config = PETS_CONFIG;
    const before = await createRun(home, config, 'before');
    await store.setExcluded('pets', 'train', 0, true);
    await store.setExcluded('pets', 'train', 1, true);
    await store.setExcluded('pets', 'val', 3, true);
    const after = await createRun(home, config, 'after');
    expect(before.dataset).toMatchObject({ train: 40, val: 10 });
    expect(before.dataset.excluded).toBeUndefined();
    expect(after.dataset).toMatchObject({ train: 38, val: 9, excluded: { train: [0, 1], val: [3] } });
    // What the trainer and the evaluation load for that run: the kept images, with their stored indices.
    const d = await loadDataset(home, 'pets', after.dataset.excluded);
    expect(d.train.count).toBe(38);
    expect([...d.val.indices!]).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    // The LR finder (app job and CLI) trains on what a new run would: the excluded images left out.
    expect((await loadCurrentDataset(home, 'pets')).train.count).toBe(38);
  });
});
