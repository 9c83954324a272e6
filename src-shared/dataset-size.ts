/**
 * What a stored image size costs. Datasets keep raw 8-bit RGB (3 bytes a pixel), read whole into memory by a run:
 * the disk a dataset takes is about the memory its runs hold. Pretrained backbones see 96–224 px.
 */
export const BACKBONE_MIN_SIZE = 96;
export const BACKBONE_MAX_SIZE = 224;

export function storedBytes(images: number, size: number): number {
  return images * size * size * 3;
}

/** Decimal units, as download sites give sizes (170,052,171 bytes are "170 MB"). */
export function formatBytesDecimal(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1000 ** 2) return `${(n / 1000).toFixed(1)} kB`;
  if (n < 1000 ** 3) return `${(n / 1000 ** 2).toFixed(1)} MB`;
  return `${(n / 1000 ** 3).toFixed(2)} GB`;
}

/** "612 images at 224×224 px: about 92.1 MB on disk, and as much in memory while a run trains". */
export function storageNote(images: number, size: number): string {
  return `${images.toLocaleString('en-US')} images at ${size}×${size} px: about ${formatBytesDecimal(storedBytes(images, size))} on disk, and as much in memory while a run trains`;
}
