import { expect } from 'vitest';

/** Deterministic pseudo-random values in [offset − scale/2, offset + scale/2), so a failure reproduces. */
export function randomValues(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * scale + offset;
  }
  return out;
}

/** max |a−b| over max |b|: the relative error of a whole tensor against the reference. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}
