/**
 * What the engine trains from. Images are 8-bit RGB, row-major HWC, packed
 * back to back: image i occupies bytes [i*S*S*3, (i+1)*S*S*3).
 */
export interface ImageSplit {
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
}

export interface LoadedDataset {
  id: string;
  name: string;
  /** Side of the square images, in pixels. */
  imageSize: number;
  classes: string[];
  /** Per-channel mean and std of the training split, on the 0..1 scale (pixel / 255). */
  mean: [number, number, number];
  std: [number, number, number];
  train: ImageSplit;
  val: ImageSplit;
  /** A hash of the manifest, so a run record can tell which data it trained on. */
  manifestHash: string;
}
