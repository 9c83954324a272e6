import crypto from 'node:crypto';
import type { ImageSplit, LoadedDataset } from '../../common/dataset-types.ts';
import { channelStats } from '../../common/channel-stats.ts';
import { Rng } from '../util/rng.ts';

/**
 * The built-in `synthetic` dataset: procedurally drawn shapes, so a first run needs no download.
 * Position, size, colours and background noise vary, and foreground and background colours
 * are drawn independently, so the class is in the shape alone: a small but real task.
 */
export const SYNTHETIC_ID = 'synthetic';

type Inside = (x: number, y: number) => boolean;

// Each shape is a test on coordinates normalised to [-1, 1] around the shape's centre.
const SHAPES: { name: string; inside: Inside }[] = [
  { name: 'disc', inside: (x, y) => x * x + y * y <= 1 },
  { name: 'square', inside: (x, y) => Math.abs(x) <= 0.8 && Math.abs(y) <= 0.8 },
  { name: 'triangle', inside: (x, y) => y <= 0.8 && y >= -0.9 + 2 * Math.abs(x) * 0.95 },
  {
    name: 'ring',
    inside: (x, y) => {
      const r = x * x + y * y;
      return r <= 1 && r >= 0.4;
    },
  },
  { name: 'plus', inside: (x, y) => (Math.abs(x) <= 0.25 && Math.abs(y) <= 1) || (Math.abs(y) <= 0.25 && Math.abs(x) <= 1) },
  { name: 'cross', inside: (x, y) => (Math.abs(x - y) <= 0.35 || Math.abs(x + y) <= 0.35) && Math.abs(x) <= 0.9 && Math.abs(y) <= 0.9 },
  { name: 'hbar', inside: (x, y) => Math.abs(y) <= 0.3 && Math.abs(x) <= 1 },
  { name: 'vbar', inside: (x, y) => Math.abs(x) <= 0.3 && Math.abs(y) <= 1 },
  { name: 'diamond', inside: (x, y) => Math.abs(x) + Math.abs(y) <= 1 },
  { name: 'frame', inside: (x, y) => Math.max(Math.abs(x), Math.abs(y)) <= 0.9 && Math.max(Math.abs(x), Math.abs(y)) >= 0.55 },
];

export const SYNTHETIC_CLASSES = SHAPES.map((s) => s.name);

export interface SyntheticOptions {
  train?: number;
  val?: number;
  imageSize?: number;
  seed?: number;
}

function drawSplit(count: number, size: number, rng: Rng): ImageSplit {
  const images = new Uint8Array(count * size * size * 3);
  const labels = new Uint8Array(count);
  const colour = () => [rng.int(256), rng.int(256), rng.int(256)];
  for (let i = 0; i < count; i++) {
    const label = i % SHAPES.length;
    labels[i] = label;
    const inside = SHAPES[label]!.inside;
    const radius = size * (0.25 + 0.17 * rng.float());
    const cx = radius + rng.float() * (size - 2 * radius);
    const cy = radius + rng.float() * (size - 2 * radius);
    let fg = colour();
    const bg = colour();
    // Keep the shape visible: push the foreground away from a too-similar background.
    if (Math.abs(fg[0]! - bg[0]!) + Math.abs(fg[1]! - bg[1]!) + Math.abs(fg[2]! - bg[2]!) < 120) fg = bg.map((v) => 255 - v);
    const noise = 5 + rng.float() * 20;
    const base = i * size * size * 3;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const c = inside((x + 0.5 - cx) / radius, (y + 0.5 - cy) / radius) ? fg : bg;
        const o = base + (y * size + x) * 3;
        // One draw gives the three channels' noise (a byte each): generating the set is quick.
        const r = rng.next();
        for (let ch = 0; ch < 3; ch++) {
          const v = c[ch]! + (((r >>> (8 * ch)) & 0xff) / 127.5 - 1) * noise;
          images[o + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
      }
    }
  }
  // Labels were drawn in class order; shuffle so any prefix (--limit-train) stays balanced-ish.
  return shuffleSplit({ count, images, labels }, size, rng);
}

function shuffleSplit(split: ImageSplit, size: number, rng: Rng): ImageSplit {
  const per = size * size * 3;
  const order = rng.permutation(split.count);
  const images = new Uint8Array(split.images.length);
  const labels = new Uint8Array(split.count);
  order.forEach((from, to) => {
    images.set(split.images.subarray(from * per, (from + 1) * per), to * per);
    labels[to] = split.labels[from]!;
  });
  return { count: split.count, images, labels };
}

/** The built-in dataset's size when nothing else is asked (the app lists and trains this one). */
export const SYNTHETIC_DEFAULTS: Required<SyntheticOptions> = { train: 5000, val: 1000, imageSize: 32, seed: 1 };

/**
 * What the built-in dataset holds, without drawing it: its counts per class (labels are dealt in class order,
 * then shuffled) and the hash that stands for its manifest.
 */
export function describeSynthetic(opts: SyntheticOptions = {}): {
  imageSize: number;
  counts: { train: number; val: number };
  classCounts: { train: number[]; val: number[] };
  manifestHash: string;
} {
  const { train, val, imageSize, seed } = { ...SYNTHETIC_DEFAULTS, ...opts };
  const perClass = (count: number) => SHAPES.map((_, c) => Math.floor(count / SHAPES.length) + (c < count % SHAPES.length ? 1 : 0));
  const manifestHash = crypto
    .createHash('sha256')
    .update(JSON.stringify({ SYNTHETIC_ID, train, val, imageSize, seed, generator: 2 }))
    .digest('hex');
  return { imageSize, counts: { train, val }, classCounts: { train: perClass(train), val: perClass(val) }, manifestHash };
}

export function makeSyntheticDataset(opts: SyntheticOptions = {}): LoadedDataset {
  const { train, val, imageSize, seed } = { ...SYNTHETIC_DEFAULTS, ...opts };
  const trainSplit = drawSplit(train, imageSize, new Rng(seed, 1));
  const valSplit = drawSplit(val, imageSize, new Rng(seed, 2));
  const { mean, std } = channelStats(trainSplit.images);
  const { manifestHash } = describeSynthetic({ train, val, imageSize, seed });
  return {
    id: SYNTHETIC_ID,
    name: 'Synthetic shapes',
    imageSize,
    classes: SYNTHETIC_CLASSES,
    mean,
    std,
    train: trainSplit,
    val: valSplit,
    manifestHash,
  };
}
