import { DataError } from '../common/errors.ts';
import type { ImageSplit } from '../common/dataset-types.ts';

export const CIFAR10_RECORD_BYTES = 3073;
export const CIFAR10_SIZE = 32;
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_META_FILE = 'batches.meta.txt';

/**
 * Official batch records are <label byte><1024 R><1024 G><1024 B>, planes row-major;
 * the store wants interleaved RGB (HWC), so each image is transposed here.
 */
export function parseCifarBatches(batches: { name: string; data: Buffer }[], classCount = 10): ImageSplit {
  const P = CIFAR10_SIZE * CIFAR10_SIZE;
  let count = 0;
  for (const b of batches) {
    if (b.data.length === 0 || b.data.length % CIFAR10_RECORD_BYTES !== 0) {
      throw new DataError(`corrupt archive: ${b.name} is ${b.data.length} bytes, expected a multiple of ${CIFAR10_RECORD_BYTES}`);
    }
    count += b.data.length / CIFAR10_RECORD_BYTES;
  }
  const images = new Uint8Array(count * P * 3);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const b of batches) {
    const src = b.data;
    const records = src.length / CIFAR10_RECORD_BYTES;
    for (let r = 0; r < records; r++, n++) {
      const base = r * CIFAR10_RECORD_BYTES;
      const label = src[base];
      if (label >= classCount)
        throw new DataError(`corrupt archive: ${b.name} record ${r} has label ${label}, expected 0..${classCount - 1}`);
      labels[n] = label;
      const out = n * P * 3;
      const rOff = base + 1,
        gOff = rOff + P,
        bOff = gOff + P;
      for (let p = 0, o = out; p < P; p++, o += 3) {
        images[o] = src[rOff + p];
        images[o + 1] = src[gOff + p];
        images[o + 2] = src[bOff + p];
      }
    }
  }
  return { count, images, labels };
}

export function parseCifarMeta(text: string): string[] {
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length !== 10) throw new DataError(`corrupt archive: ${CIFAR10_META_FILE} lists ${names.length} class names, expected 10`);
  return names;
}
