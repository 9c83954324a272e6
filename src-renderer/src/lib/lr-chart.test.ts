import { describe, expect, it } from 'vitest';
import { lrChartRange } from './lr-chart.ts';

describe('LR finder y range', () => {
  it('spans the descent, clipping the blow-up at the end', () => {
    const losses = [1.1, 1.1, 1.09, 1.05, 0.9, 0.7, 0.55, 0.5, 0.6, 2, 13];
    const r = lrChartRange(losses.map((smoothedLoss) => ({ smoothedLoss })))!;
    expect(r.max).toBeCloseTo(1.1 * 1.15, 10);
    expect(r.max).toBeLessThan(2);
    expect(r.min).toBeLessThan(0.5);
    expect(r.min).toBeGreaterThan(0.4);
  });

  it('leaves out non-finite points and needs two', () => {
    expect(lrChartRange([{ smoothedLoss: 1 }, { smoothedLoss: NaN }])).toBeNull();
    expect(lrChartRange([{ smoothedLoss: 2 }, { smoothedLoss: 1 }, { smoothedLoss: Infinity }])).toEqual({
      min: expect.any(Number),
      max: 2.3,
    });
  });
});
