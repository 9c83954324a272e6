import { describe, expect, it } from 'vitest';
import { withoutExcluded, type ImageSplit } from './dataset-types.ts';

describe('withoutExcluded', () => {
  it('drops the excluded images of each split and keeps the stored index of the rest', () => {
    const split = (n: number) => ({
      count: n,
      images: Uint8Array.from({ length: n * 3 }, (_, i) => Math.floor(i / 3)),
      labels: Uint8Array.from({ length: n }, (_, i) => i % 2),
    });
    const d: { imageSize: number; train: ImageSplit; val: ImageSplit } = { imageSize: 1, train: split(4), val: split(3) };
    expect(withoutExcluded(d, { train: [], val: [] })).toBe(d);
    const out = withoutExcluded(d, { train: [1, 3], val: [0] });
    expect(out.train.count).toBe(2);
    expect([...out.train.images]).toEqual([0, 0, 0, 2, 2, 2]);
    expect([...out.train.labels]).toEqual([0, 0]);
    expect([...out.train.indices!]).toEqual([0, 2]);
    expect([...out.val.indices!]).toEqual([1, 2]);
    expect([...out.val.labels]).toEqual([1, 0]);
  });
});
