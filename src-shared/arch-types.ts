/** An architecture's summary as the editor shows it. */

/** Shape of one example: [H, W, C] for feature maps, [C] after pooling. */
export type Shape = number[];

export interface ArchSummary {
  trainableParams: number;
  params: number;
  flopsPerImage: number;
  layers: { name: string; outputShape: Shape; params: number }[];
}

/** The optimiser settings a preset's source used to reach ~94% on CIFAR-10. */
export interface Recipe {
  epochs: number;
  batchSize: number;
  lrMax: number;
  weightDecay: number;
  warmupFraction: number;
  startDiv: number;
  finalDiv: number;
  shape: 'linear' | 'cosine';
  momentumMax: number;
  momentumMin: number;
  cutout: number;
  labelSmoothing: number;
  source: string;
}
