/** Result shapes of the engine that cross the contract: plain data, no code. */

export interface EpochMetrics {
  epoch: number;
  step: number;
  trainLoss: number;
  trainAcc: number;
  valLoss: number;
  valAcc: number;
  ttaAcc?: number;
  lr: number;
  imagesPerSec: number;
  /** Training seconds of this epoch, evaluation excluded. */
  seconds: number;
  /** Seconds spent evaluating after the epoch. */
  evalSeconds: number;
  /** Validation images evaluated: a fixed sample after each epoch but the last, the whole split after the last. */
  valImages?: number;
}

export interface LrFindPoint {
  step: number;
  lr: number;
  loss: number;
  smoothedLoss: number;
}

export interface LrFindResult {
  points: LrFindPoint[];
  /** Where the smoothed loss falls fastest (per log-LR step): Smith's and fastai's rule of thumb. */
  suggestedLr: number | null;
  /** A tenth of the LR at the minimum loss, the other common rule. */
  minLossLr: number | null;
  stoppedEarly: boolean;
  /** The batch size it trained at; the suggestions are for that batch (scaleLr for another). */
  batchSize: number;
}
