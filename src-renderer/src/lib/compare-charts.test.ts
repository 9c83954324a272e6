import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../../src-shared/run-types.ts';
import { readableDiff } from './compare-charts.ts';

describe('readableDiff', () => {
  it('compares a preset with a custom spec as one net.arch row of names', () => {
    const rec = (id: string, arch: unknown, presetId?: string) =>
      ({ id, resolved: { config: { net: { arch } }, ...(presetId ? { presetId } : {}) } }) as unknown as RunRecord;
    const records = [
      rec('a', { kind: 'resnet9', widths: [64, 128, 256, 512] }, 'resnet-9-s'),
      rec('b', { kind: 'resnet9', name: 'wide9', widths: [8, 16, 32, 64] }),
    ];
    const diff = [
      { path: 'seed', values: { a: 0, b: 1 } },
      { path: 'net.arch', values: { a: 'resnet-9-s', b: null } },
      { path: 'net.arch.widths[0]', values: { a: null, b: 8 } },
      { path: 'arch.widths[0]', values: { a: 64, b: 8 } },
    ];
    expect(readableDiff(diff, records)).toEqual([
      { path: 'seed', values: { a: 0, b: 1 } },
      { path: 'net.arch', values: { a: 'resnet-9-s', b: 'wide9 (resnet9)' } },
      { path: 'arch.widths[0]', values: { a: 64, b: 8 } },
    ]);
  });
});
