import { MIN_AUTO_STEPS, TARGET_AUTO_STEPS } from './resolve-config.ts';
import { PHOTO_IMAGE_SIZE, PHOTO_MIN_SIDE } from '../datasets/image-size.ts';

/** What the hint looks at: the finished run's length, its last epoch and its data. */
export interface HintInput {
  valAcc: number;
  trainAcc: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** Whether the person set --epochs (else Kiln chose the length). */
  epochsGiven: boolean;
  classes: string[];
  /** Training images per class, in class order. */
  trainPerClass: number[];
  imageSize: number;
  /** Median short side of the imported files, when the dataset came from a folder. */
  medianShortSide?: number | null;
}

/** Below this validation accuracy a result counts as weak (with a train/val gap above OVERFIT_GAP, at any accuracy). */
export const WEAK_ACCURACY = 0.85;
export const OVERFIT_GAP = 0.2;
/** Fewer training images than this in a class and the class is what limits the model. */
export const FEW_PER_CLASS = 100;

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * One line saying why a finished run's result is weak and what to change, or null when it is not weak or
 * the reason cannot be named. The most actionable reason wins: a short run, photos stored too small,
 * memorising, then too few images.
 */
export function runHint(h: HintInput): string | null {
  const gap = h.trainAcc - h.valAcc;
  const weak = h.valAcc < WEAK_ACCURACY;
  if (weak && h.totalSteps < MIN_AUTO_STEPS) {
    const epochs = Math.ceil(TARGET_AUTO_STEPS / Math.max(1, h.stepsPerEpoch));
    return (
      `only ${h.totalSteps} optimiser steps: the model stopped half-trained. ` +
      (h.epochsGiven
        ? `Leave --epochs out (Kiln then picks the length from the dataset's size) or try --epochs ${epochs}.`
        : `Try --epochs ${epochs}.`)
    );
  }
  if (weak && h.medianShortSide != null && h.medianShortSide >= PHOTO_MIN_SIDE && h.imageSize < PHOTO_IMAGE_SIZE) {
    return `the photos (about ${h.medianShortSide} px) were stored at ${h.imageSize} px, which blurs away detail: re-import with kiln dataset import <folder> --size ${PHOTO_IMAGE_SIZE}.`;
  }
  if (gap > OVERFIT_GAP || (weak && gap > OVERFIT_GAP / 2 && h.trainAcc > 0.9)) {
    return `train accuracy ${pct(h.trainAcc)} against validation ${pct(h.valAcc)}: the model memorises its training images. More images help most; else stronger augmentation (--cutout ${Math.round(h.imageSize / 4)}) or fewer epochs.`;
  }
  if (weak) {
    let fewest = 0;
    h.trainPerClass.forEach((n, c) => n < h.trainPerClass[fewest]! && (fewest = c));
    const n = h.trainPerClass[fewest];
    if (n !== undefined && n < FEW_PER_CLASS) {
      return `only ${n} training image(s) of "${h.classes[fewest]}"${h.trainPerClass.filter((k) => k < FEW_PER_CLASS).length > 1 ? ' (and other classes are as small)' : ''}: from scratch, a model needs a few hundred per class; add images before tuning settings.`;
    }
  }
  return null;
}
