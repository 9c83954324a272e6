import { RunConfigSchema } from '../../../src-shared/run-config.ts';
import { plainFieldMessage } from './errors.ts';

/**
 * Each run-form field's label and one line of help, keyed by its path in RunConfig: the form shows them, and a
 * refused Start names the field by its label. "auto" is the one word for "left to the preset's recipe".
 */
export const RUN_FIELDS: Record<string, { label: string; help: string }> = {
  'data.dataset': { label: 'Dataset', help: 'The images to train on: one sub-folder per class.' },
  'data.limitTrain': { label: 'Train images', help: 'Use only the first N training images; empty = all.' },
  'data.limitVal': { label: 'Val images', help: 'Use only the first N validation images; empty = all.' },
  initFrom: { label: 'Start from', help: 'Random weights, or the best weights of a finished run (fine-tuning).' },
  'opt.freezeEpochs': { label: 'Frozen epochs', help: 'Train only the new head for this many epochs, then everything.' },
  'opt.epochs': { label: 'Epochs', help: 'Passes over the training images; auto = the recipe’s, more for small sets.' },
  'opt.batchSize': { label: 'Batch size', help: 'Images per step; auto = the recipe’s, smaller for small sets.' },
  'opt.lrMax': { label: 'Max learning rate', help: 'Peak step size; auto = the recipe’s, scaled with the batch. Try the LR finder.' },
  'opt.weightDecay': { label: 'Weight decay', help: 'Pulls weights toward zero each step (L2); auto = the recipe’s.' },
  'opt.labelSmoothing': { label: 'Label smoothing', help: 'Soften the targets by this much (0–0.99) against over-confidence.' },
  'opt.schedule': { label: 'Schedule', help: 'one-cycle: LR rises then anneals (fast); constant: one LR throughout.' },
  'opt.warmupFraction': { label: 'Warm-up fraction', help: 'Share of the steps spent raising the LR to its peak (one-cycle).' },
  'opt.momentumMax': { label: 'Momentum max', help: 'SGD momentum at the start and end of the cycle.' },
  'opt.momentumMin': { label: 'Momentum min', help: 'SGD momentum at the peak LR; not above momentum max.' },
  'opt.nesterov': { label: 'Nesterov', help: 'Nesterov momentum: looks one step ahead; usually a little better.' },
  'aug.cropPadding': { label: 'Crop padding (px)', help: 'Pad by this many pixels, then crop at a random offset; 0 = off.' },
  'aug.cutout': { label: 'Cutout (px)', help: 'Blank a random square this wide in each training image; 0 = off.' },
  'aug.flip': { label: 'Horizontal flip', help: 'Mirror training images at random (not for text or arrows).' },
  'aug.tta': {
    label: 'Test-time augmentation',
    help: 'Also score each validation image with its mirror image (TTA), after the last epoch and on the best checkpoint.',
  },
  backend: { label: 'Backend', help: 'Where the maths runs; auto = the fastest available here.' },
  seed: { label: 'Seed', help: 'Same seed and backend give the same run.' },
  name: { label: 'Run name', help: 'Empty = dataset · architecture · number.' },
};

/** The config checked with the schema the server validates with: one message per field path, in words. */
export function runConfigErrors(config: unknown): Record<string, string> {
  const result = RunConfigSchema.safeParse(config);
  if (result.success) return {};
  const errors: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.join('.');
    errors[key] ??= plainFieldMessage(issue.message);
  }
  return errors;
}

/** Why Start cannot go ahead, naming the first field at fault by its label; '' when it can. */
export function firstFieldProblem(errors: Record<string, string>): string {
  const keys = Object.keys(errors).filter((k) => errors[k]);
  if (!keys.length) return '';
  const key = keys[0]!;
  const label = RUN_FIELDS[key]?.label ?? (key || 'The form');
  const more = keys.length > 1 ? ` (and ${keys.length - 1} more field${keys.length > 2 ? 's' : ''})` : '';
  return `${label}: ${errors[key]}${more}`;
}
