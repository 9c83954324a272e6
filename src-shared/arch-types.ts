/** An architecture's summary as the editor shows it. */

/** Shape of one example: [H, W, C] for feature maps, [C] after pooling. */
export type Shape = number[];

export interface ArchSummary {
  trainableParams: number;
  params: number;
  flopsPerImage: number;
  layers: { name: string; outputShape: Shape; params: number }[];
}
