import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';

describe('Rng', () => {
  it('repeats for the same seed and stream, differs otherwise', () => {
    const draw = (r: Rng) => Array.from({ length: 5 }, () => r.next());
    expect(draw(new Rng(1, 2))).toEqual(draw(new Rng(1, 2)));
    expect(draw(new Rng(1, 2))).not.toEqual(draw(new Rng(1, 3)));
    expect(draw(new Rng(1))).not.toEqual(draw(new Rng(2)));
  });

  it('draws floats in [0,1) with the right mean, and normals with unit variance', () => {
    const r = new Rng(7);
    const n = 20000;
    let s = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const f = r.float();
      s += f;
      min = Math.min(min, f);
      max = Math.max(max, f);
    }
    expect(s / n).toBeCloseTo(0.5, 1);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    let m = 0;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      m += x;
      v += x * x;
    }
    expect(m / n).toBeCloseTo(0, 1);
    expect(v / n).toBeCloseTo(1, 1);
  });

  it('permutes every index exactly once', () => {
    const p = new Rng(3).permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
