import type { ImageSplit } from '../../common/dataset-types.ts';

/**
 * Images validated after each epoch but the last: the whole split costs as much as a sizeable part of an
 * epoch's training (CIFAR-10's 10,000 images, twice with TTA, were ~40% of a short CPU run), and a fixed
 * sample of this many tracks progress and picks the best checkpoint well enough. The last epoch, and the
 * evaluation of the best checkpoint, use the whole split with TTA.
 */
export const EPOCH_VAL_SAMPLE = 2000;

/**
 * A fixed sample of `cap` images spread evenly over the split (the same every epoch, so epochs compare;
 * proportional to each class where the split is grouped by class). The whole split when it is no larger.
 */
export function fixedValSample(split: ImageSplit, cap: number, imageSize: number): ImageSplit {
  if (split.count <= cap) return split;
  const per = imageSize * imageSize * 3;
  const images = new Uint8Array(cap * per);
  const labels = new Uint8Array(cap);
  for (let i = 0; i < cap; i++) {
    const src = Math.floor((i * split.count) / cap);
    images.set(split.images.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = split.labels[src]!;
  }
  return { count: cap, images, labels };
}
