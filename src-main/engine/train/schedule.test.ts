import { describe, expect, it } from 'vitest';
import { scheduleAt, type ScheduleConfig } from './schedule.ts';

const base: ScheduleConfig = {
  schedule: 'one-cycle',
  shape: 'linear',
  lrMax: 0.4,
  warmupFraction: 0.25,
  startDiv: 20,
  finalDiv: 1000,
  momentumMax: 0.95,
  momentumMin: 0.85,
};

describe('one-cycle', () => {
  it('starts at lrMax/startDiv, peaks at the end of warm-up, ends at lrMax/finalDiv', () => {
    expect(scheduleAt(base, 0, 100)).toEqual({ lr: 0.02, momentum: 0.95 });
    const peak = scheduleAt(base, 25, 100);
    expect(peak.lr).toBeCloseTo(0.4, 12);
    expect(peak.momentum).toBeCloseTo(0.85, 12);
    const end = scheduleAt(base, 100, 100);
    expect(end.lr).toBeCloseTo(0.0004, 12);
    expect(end.momentum).toBeCloseTo(0.95, 12);
  });

  it('rises monotonically then falls, with momentum mirrored', () => {
    const values = Array.from({ length: 101 }, (_, i) => scheduleAt(base, i, 100));
    for (let i = 1; i <= 25; i++) {
      expect(values[i]!.lr).toBeGreaterThan(values[i - 1]!.lr);
      expect(values[i]!.momentum).toBeLessThan(values[i - 1]!.momentum);
    }
    for (let i = 26; i <= 100; i++) {
      expect(values[i]!.lr).toBeLessThan(values[i - 1]!.lr);
      expect(values[i]!.momentum).toBeGreaterThan(values[i - 1]!.momentum);
    }
  });

  it('linear is half-way at mid-ramp, cosine too, but cosine is flatter near the ends', () => {
    const lin = scheduleAt(base, 62.5, 100).lr;
    const cos = scheduleAt({ ...base, shape: 'cosine' }, 62.5, 100).lr;
    expect(lin).toBeCloseTo((0.4 + 0.0004) / 2, 10);
    expect(cos).toBeCloseTo(lin, 10);
    expect(scheduleAt({ ...base, shape: 'cosine' }, 30, 100).lr).toBeGreaterThan(scheduleAt(base, 30, 100).lr);
  });

  it('constant ignores the step', () => {
    const c = { ...base, schedule: 'constant' as const };
    expect(scheduleAt(c, 0, 10)).toEqual(scheduleAt(c, 9, 10));
    expect(scheduleAt(c, 5, 10)).toEqual({ lr: 0.4, momentum: 0.95 });
  });
});
