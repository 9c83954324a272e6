import { describe, expect, it } from 'vitest';
import { MAX_CELL_IMAGES, MAX_MISTAKES, summarizePredictions } from './evaluation-summary.ts';
import { topK } from './predict.ts';

const classes = ['a', 'b', 'c'];

describe('summarizePredictions', () => {
  it('counts confusion [true][pred], per-class accuracy and ranks mistakes by confidence, with and without TTA', () => {
    // 4 images: labels a, b, c, c.
    const labels = [0, 1, 2, 2];
    const scores = [5, 0, 0, /**/ 3, 1, 0, /**/ 0, 0, 2, /**/ 0, 4, 1];
    const probs = [0.9, 0.05, 0.05, /**/ 0.7, 0.2, 0.1, /**/ 0.1, 0.1, 0.8, /**/ 0.05, 0.85, 0.1];
    const ttaProbs = [0.9, 0.05, 0.05, /**/ 0.3, 0.6, 0.1, /**/ 0.1, 0.1, 0.8, /**/ 0.1, 0.55, 0.35];
    const e = summarizePredictions({ classes, labels, scores, probs, ttaProbs, indices: [10, 11, 12, 13] });
    expect(e.confusion).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [0, 1, 1],
    ]);
    expect(e.ttaConfusion).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 1, 1],
    ]);
    expect(e.accuracy).toBe(0.5);
    expect(e.ttaAccuracy).toBe(0.75);
    expect(e.perClass).toEqual([
      { name: 'a', accuracy: 1, ttaAccuracy: 1 },
      { name: 'b', accuracy: 0, ttaAccuracy: 1 },
      { name: 'c', accuracy: 0.5, ttaAccuracy: 0.5 },
    ]);
    expect(e.mistakes).toEqual([
      { index: 13, trueClass: 2, predicted: 1, confidence: 0.85, tta: false },
      { index: 11, trueClass: 1, predicted: 0, confidence: 0.7, tta: false },
      { index: 13, trueClass: 2, predicted: 1, confidence: 0.55, tta: true },
    ]);
    // Every non-empty cell with its images, most confident first: what clicking a cell shows.
    expect(e.cells).toEqual([
      { trueClass: 0, predicted: 0, images: [{ index: 10, confidence: 0.9 }] },
      { trueClass: 1, predicted: 0, images: [{ index: 11, confidence: 0.7 }] },
      { trueClass: 2, predicted: 1, images: [{ index: 13, confidence: 0.85 }] },
      { trueClass: 2, predicted: 2, images: [{ index: 12, confidence: 0.8 }] },
    ]);
  });

  it('keeps the most confident mistakes only; without TTA the TTA fields repeat the plain ones', () => {
    const n = MAX_MISTAKES + 5;
    const labels = new Array(n).fill(0);
    const scores = Array.from({ length: n }, () => [0, 1, 0]).flat();
    const probs = Array.from({ length: n }, (_, i) => [0.1, 0.5 + i / 100, 0.4 - i / 100]).flat();
    const e = summarizePredictions({ classes, labels, scores, probs });
    expect(e.tta).toBe(false);
    expect(e.ttaConfusion).toEqual(e.confusion);
    expect(e.mistakes).toHaveLength(MAX_MISTAKES);
    expect(e.mistakes[0]!.index).toBe(n - 1);
    expect(e.mistakes.at(-1)!.index).toBe(n - MAX_MISTAKES);
    expect(e.cells).toHaveLength(1);
    expect(e.cells![0]!.images).toHaveLength(MAX_CELL_IMAGES);
    expect(e.cells![0]!.images[0]!.index).toBe(n - 1);
  });

  it('rejects tables of the wrong size and labels out of range', () => {
    expect(() => summarizePredictions({ classes, labels: [0], scores: [1, 2], probs: [1, 0, 0] })).toThrow(
      'scores has 2 values, expected 1×3',
    );
    expect(() => summarizePredictions({ classes, labels: [3], scores: [1, 0, 0], probs: [1, 0, 0] })).toThrow(
      'image 0 has label 3, expected 0..2',
    );
  });
});

describe('topK', () => {
  it('orders by probability, ties by class index, and clamps k', () => {
    expect(topK([0.2, 0.5, 0.2, 0.1], ['w', 'x', 'y', 'z'], 3)).toEqual([
      { className: 'x', probability: 0.5 },
      { className: 'w', probability: 0.2 },
      { className: 'y', probability: 0.2 },
    ]);
    expect(topK([0.3, 0.7], ['p', 'q'], 10).map((t) => t.className)).toEqual(['q', 'p']);
  });
});
