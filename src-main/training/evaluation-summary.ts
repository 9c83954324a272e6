import type { Evaluation } from '../../src-shared/contract.ts';

/** How many of the most confident mistakes an evaluation keeps, per mode (plain and TTA). */
export const MAX_MISTAKES = 20;
/** How many images an evaluation keeps per confusion-matrix cell (clicking a cell shows them). */
export const MAX_CELL_IMAGES = 24;

export interface PredictionTable {
  classes: string[];
  /** True class of each image. */
  labels: ArrayLike<number>;
  /** Row-major [image][class] scores whose argmax is the prediction (logits). */
  scores: ArrayLike<number>;
  /** Row-major [image][class] probabilities (softmax of the scores). */
  probs: ArrayLike<number>;
  /** TTA: row-major probabilities averaged over the image and its flip; absent when not evaluated. */
  ttaProbs?: ArrayLike<number>;
  /** Index of each row in the dataset split (default: the row number). */
  indices?: ArrayLike<number>;
}

/** First index of the largest value, as tf.argMax picks it. */
function argmax(values: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (values[offset + c]! > values[offset + best]!) best = c;
  return best;
}

/**
 * Confusion matrices [true][predicted], per-class accuracy and the most confident mistakes, with and
 * without TTA. Without TTA results, the TTA fields repeat the plain ones and `tta` is false.
 */
export function summarizePredictions(t: PredictionTable): Evaluation {
  const k = t.classes.length;
  const n = t.labels.length;
  for (const [what, table] of [
    ['scores', t.scores],
    ['probs', t.probs],
    ['ttaProbs', t.ttaProbs],
  ] as const) {
    if (table && table.length !== n * k) throw new Error(`evaluation: ${what} has ${table.length} values, expected ${n}×${k}`);
  }
  const square = () => Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const confusion = square();
  const ttaConfusion = square();
  const mistakes: Evaluation['mistakes'] = [];
  const ttaMistakes: Evaluation['mistakes'] = [];
  const cellImages = new Map<number, { index: number; confidence: number }[]>();
  for (let i = 0; i < n; i++) {
    const label = t.labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= k)
      throw new Error(`evaluation: image ${i} has label ${label}, expected 0..${k - 1}`);
    const index = t.indices ? t.indices[i]! : i;
    const pred = argmax(t.scores, i * k, k);
    confusion[label]![pred]!++;
    const cell = cellImages.get(label * k + pred) ?? [];
    cell.push({ index, confidence: t.probs[i * k + pred]! });
    cellImages.set(label * k + pred, cell);
    if (pred !== label) mistakes.push({ index, trueClass: label, predicted: pred, confidence: t.probs[i * k + pred]!, tta: false });
    if (t.ttaProbs) {
      const tp = argmax(t.ttaProbs, i * k, k);
      ttaConfusion[label]![tp]!++;
      if (tp !== label) ttaMistakes.push({ index, trueClass: label, predicted: tp, confidence: t.ttaProbs[i * k + tp]!, tta: true });
    }
  }
  const byConfidence = (a: Evaluation['mistakes'][number], b: Evaluation['mistakes'][number]) =>
    b.confidence - a.confidence || a.index - b.index;
  const diagonal = (m: number[][]) => m.reduce((s, row, c) => s + row[c]!, 0);
  const rowAcc = (m: number[][], c: number) => {
    const total = m[c]!.reduce((s, v) => s + v, 0);
    return total > 0 ? m[c]![c]! / total : 0;
  };
  const tta = t.ttaProbs !== undefined;
  const ttaM = tta ? ttaConfusion : confusion;
  return {
    tta,
    accuracy: n > 0 ? diagonal(confusion) / n : 0,
    ttaAccuracy: n > 0 ? diagonal(ttaM) / n : 0,
    classes: [...t.classes],
    confusion,
    ttaConfusion: ttaM.map((row) => [...row]),
    perClass: t.classes.map((name, c) => ({ name, accuracy: rowAcc(confusion, c), ttaAccuracy: rowAcc(ttaM, c) })),
    mistakes: [...mistakes.sort(byConfidence).slice(0, MAX_MISTAKES), ...ttaMistakes.sort(byConfidence).slice(0, MAX_MISTAKES)],
    cells: [...cellImages.entries()]
      .sort(([a], [b]) => a - b)
      .map(([key, images]) => ({
        trueClass: Math.floor(key / k),
        predicted: key % k,
        images: images.sort((a, b) => b.confidence - a.confidence || a.index - b.index).slice(0, MAX_CELL_IMAGES),
      })),
  };
}
