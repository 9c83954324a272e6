import { describe, expect, it } from 'vitest';
import { pickRunName } from './run-names.ts';

describe('run names', () => {
  it('generates dataset · arch · n with the first free n', () => {
    expect(pickRunName([], undefined, 'photos', 'resnet-9-s')).toBe('photos · resnet-9-s · 1');
    expect(pickRunName(['photos · resnet-9-s · 1', 'photos · resnet-9-s · 3', 'cifar10 · wrn-22 · 2'], '  ', 'photos', 'resnet-9-s')).toBe(
      'photos · resnet-9-s · 2',
    );
  });

  it('keeps a typed name, and refuses one another run has (whatever its case)', () => {
    expect(pickRunName(['a'], ' baseline ', 'photos', 'wrn-22')).toBe('baseline');
    expect(() => pickRunName(['Baseline'], 'baseline', 'photos', 'wrn-22')).toThrow(/a run named "baseline" already exists/);
  });
});
