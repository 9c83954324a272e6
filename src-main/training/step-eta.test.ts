import { describe, expect, it } from 'vitest';
import { StepEta } from './step-eta.ts';
import { WARMUP_STEPS } from './session-callbacks.ts';

describe('StepEta', () => {
  it('says nothing during the warm-up, then times steps from its end only', () => {
    let t = 0;
    const eta = new StepEta(100, () => t);
    const seen: (number | null)[] = [];
    for (let step = 1; step <= WARMUP_STEPS + 2; step++) {
      t += step <= WARMUP_STEPS ? 4 : 1; // warm-up steps are slow
      seen.push(eta.tick(step));
    }
    expect(seen.slice(0, WARMUP_STEPS)).toEqual(new Array(WARMUP_STEPS).fill(null));
    expect(seen.at(-1)).toBeCloseTo(100 - (WARMUP_STEPS + 2), 9);
  });
});
