import { describe, expect, it } from 'vitest';
import { nearest, smooth, toCsv } from './series-math.ts';

describe('series math', () => {
  it('smooths with a debiased EMA and leaves gaps and weight 0 alone', () => {
    const pts = [
      { x: 0, y: 1 },
      { x: 1, y: null },
      { x: 2, y: 3 },
    ];
    expect(smooth(pts, 0)).toEqual(pts);
    const s = smooth(pts, 0.5);
    expect(s[0]!.y).toBeCloseTo(1);
    expect(s[1]!.y).toBeNull();
    // (0.5·0.5 + 0.5·3) / (1 − 0.25)
    expect(s[2]!.y).toBeCloseTo((0.25 + 1.5) / 0.75);
  });

  it('finds the nearest point and quotes CSV cells', () => {
    expect(
      nearest(
        [
          { x: 1, y: 5 },
          { x: 4, y: 6 },
        ],
        3,
      ),
    ).toEqual({ x: 4, y: 6 });
    expect(nearest([], 3)).toBeNull();
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', null],
          [1, 'say "hi"'],
        ],
      ),
    ).toBe('a,b\r\n"x,y",\r\n1,"say ""hi"""\r\n');
  });
});
