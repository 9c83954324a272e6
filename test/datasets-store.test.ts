import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DatasetStore, type NewDataset } from '../src-main/datasets/dataset-store.ts';

let home: string;
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-store-'));
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

/** Image i is filled with colour (i, 2i, 3i) mod 256, so every record is recognisable after a round trip. */
function makeData(id: string, train: number, val: number, classes = ['a', 'b', 'c'], S = 4): NewDataset {
  const split = (n: number, start: number) => {
    const images = new Uint8Array(n * S * S * 3);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = start + i;
      for (let p = 0; p < S * S; p++) images.set([v % 256, (2 * v) % 256, (3 * v) % 256], (i * S * S + p) * 3);
      labels[i] = v % classes.length;
    }
    return { count: n, images, labels };
  };
  return {
    id,
    name: `Data ${id}`,
    source: { kind: 'cifar10', url: 'http://x/y', checksum: null },
    imageSize: S,
    classes,
    train: split(train, 0),
    val: split(val, 1000),
  };
}

describe('DatasetStore', () => {
  it('keeps an exclusion list beside the data and refuses indices out of range and duplicate names', async () => {
    const store = new DatasetStore(home);
    await store.create(makeData('excl', 6, 3));
    expect(await store.excluded('excl')).toEqual({ train: [], val: [] });
    await store.setExcluded('excl', 'val', 2, true);
    await store.setExcluded('excl', 'val', 0, true);
    expect(await store.setExcluded('excl', 'train', 5, true)).toEqual({ train: [5], val: [0, 2] });
    expect(await store.setExcluded('excl', 'val', 2, false)).toEqual({ train: [5], val: [0] });
    await expect(store.setExcluded('excl', 'val', 3, true)).rejects.toThrow(/out of range.*3 images/);
    // The stored data is untouched: exclusions apply when a run loads it.
    expect((await store.load('excl')).val.count).toBe(3);
    await expect(store.assertNameFree('DATA EXCL')).rejects.toThrow(/exists already/);
    await store.assertNameFree('Data excl', 'excl');
  });

  it('round-trips records, counts and per-channel stats of the training split', async () => {
    const store = new DatasetStore(home);
    const m = await store.create(makeData('round', 30, 9));
    expect(m.counts).toEqual({ train: 30, val: 9 });
    expect(m.classCounts).toEqual({ train: [10, 10, 10], val: [3, 3, 3] });
    // Channel r takes values 0..29 equally often: mean 14.5, population std sqrt((30²-1)/12).
    expect(m.mean[0]).toBeCloseTo(14.5 / 255, 10);
    expect(m.std[0]).toBeCloseTo(Math.sqrt((30 * 30 - 1) / 12) / 255, 10);
    expect(m.mean[2]).toBeCloseTo((3 * 14.5) / 255, 10);

    const d = await store.load('round');
    expect(d.train.images).toEqual(makeData('round', 30, 9).train.images);
    expect(Array.from(d.val.labels)).toEqual(Array.from({ length: 9 }, (_v, i) => (1000 + i) % 3));
    expect(d.manifestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.readdirSync(path.join(home, 'datasets', 'round')).sort()).toEqual(
      ['manifest.json', 'train-images.u8', 'train-labels.u8', 'val-images.u8', 'val-labels.u8'].sort(),
    );
  });

  it('refuses reserved, escaping and duplicate ids and leaves existing datasets alone', async () => {
    const store = new DatasetStore(home);
    await expect(store.create(makeData('synthetic', 3, 0))).rejects.toThrow(/reserved/);
    await expect(store.create(makeData('../evil', 3, 0))).rejects.toThrow(/invalid dataset id/);
    await expect(store.get('../round')).rejects.toThrow(/invalid dataset id/);
    await expect(store.get('a/b')).rejects.toThrow(/invalid dataset id/);
    await expect(store.load('synthetic')).rejects.toThrow(/built into the engine/);
    await store.create(makeData('dup', 3, 0));
    const before = fs.readFileSync(path.join(home, 'datasets', 'dup', 'train-images.u8'));
    await expect(store.create(makeData('dup', 6, 0))).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(path.join(home, 'datasets', 'dup', 'train-images.u8'))).toEqual(before);
    expect(fs.readdirSync(path.join(home, 'datasets')).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    expect(await store.uniqueId('dup')).toBe('dup-2');
    expect(await store.uniqueId('synthetic')).toBe('synthetic-2');
  });

  it('renames (name only, hash unchanged), refuses names with slashes, removes, and lists', async () => {
    const store = new DatasetStore(home);
    await store.create(makeData('ren', 3, 3));
    const hash = (await store.load('ren')).manifestHash;
    await store.rename('ren', 'Noms accentués — ok');
    expect((await store.get('ren')).name).toBe('Noms accentués — ok');
    expect((await store.load('ren')).manifestHash).toBe(hash);
    await expect(store.rename('ren', '../../etc')).rejects.toThrow(/may not/);
    await expect(store.rename('ren', '..')).rejects.toThrow(/may not/);
    // A stray folder without a manifest is not a dataset.
    fs.mkdirSync(path.join(home, 'datasets', 'junk'));
    const ids = (await store.list()).map((m) => m.id);
    expect(ids).toContain('ren');
    expect(ids).not.toContain('junk');
    await store.remove('ren');
    expect(fs.existsSync(path.join(home, 'datasets', 'ren'))).toBe(false);
    await expect(store.get('ren')).rejects.toThrow(/no dataset "ren"/);
  });

  it('serves pages of one class and single images as PNG', async () => {
    const store = new DatasetStore(home);
    await store.create(makeData('browse', 40, 6, ['a', 'b', 'c', 'd']));
    expect(await store.classCounts('browse')).toEqual({ classes: ['a', 'b', 'c', 'd'], train: [10, 10, 10, 10], val: [2, 2, 1, 1] });
    const page = await store.pageOfClass('browse', 'train', 2, 3, 4);
    expect(page.total).toBe(10);
    expect(page.items.map((it) => it.index)).toEqual([14, 18, 22, 26]);
    for (const it of page.items) {
      expect(it.label).toBe(2);
      const { data, info } = await sharp(it.png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([4, 4, 3]);
      expect(Array.from(data.subarray(0, 3))).toEqual([it.index, 2 * it.index, 3 * it.index]);
    }
    expect((await store.pageOfClass('browse', 'train', 2, 9, 50)).items.map((it) => it.index)).toEqual([38]);
    const one = await store.image('browse', 'val', 5);
    expect(one.label).toBe(1005 % 4);
    const { data } = await sharp(one.png).raw().toBuffer({ resolveWithObject: true });
    expect(Array.from(data.subarray(0, 3))).toEqual([1005 % 256, 2010 % 256, 3015 % 256]);
    await expect(store.image('browse', 'val', 6)).rejects.toThrow(/out of range/);
    await expect(store.pageOfClass('browse', 'train', 4, 0, 10)).rejects.toThrow(/out of range/);
  });

  it('reports a damaged dataset with the file and what was expected', async () => {
    const store = new DatasetStore(home);
    await store.create(makeData('broken', 5, 0));
    const file = path.join(home, 'datasets', 'broken', 'train-images.u8');
    fs.truncateSync(file, 10);
    await expect(store.load('broken')).rejects.toThrow(`${file}: expected 240 bytes, found 10`);
    fs.writeFileSync(path.join(home, 'datasets', 'broken', 'manifest.json'), '{"formatVersion": 1}');
    await expect(store.get('broken')).rejects.toThrow(/manifest\.json: field "id"/);
  });
});
