import { z } from 'zod';
import { ArchSpecSchema } from './arch-spec.ts';
import { formatZodError } from './zod-error.ts';
import { BackendNameSchema } from './backends.ts';

export { formatZodError };

/**
 * One config for a run, in the spirit of airbench's `hyp`: the UI edits it, IPC carries it,
 * the trainer reads it and the run record stores it. Units are in the comments.
 */
export const DataConfigSchema = z.object({
  /** Dataset id in the store, or `synthetic` for the built-in procedural set. */
  dataset: z.string().min(1).max(200),
  /** Use only the first N training images (0 = all). */
  limitTrain: z.number().int().min(0),
  /** Use only the first N validation images (0 = all). */
  limitVal: z.number().int().min(0),
});

export const AugConfigSchema = z.object({
  /** Reflect-pad by this many pixels, then crop back to size at a random offset (0 = off). */
  cropPadding: z.number().int().min(0).max(16),
  flip: z.boolean(),
  /** Side of the square cutout in pixels (0 = off). */
  cutout: z.number().int().min(0).max(64),
  /** Evaluate also with test-time augmentation (mean of the image and its flip). */
  tta: z.boolean(),
});

export const NetConfigSchema = z.object({
  /** A preset id (`wrn-22`, `resnet-9`, `resnet-9-s`) or an architecture spec. */
  arch: z.union([z.string().min(1).max(200), ArchSpecSchema]),
});

export const ScheduleSchema = z.enum(['one-cycle', 'constant']);

export const OptConfigSchema = z.object({
  /** Passes over the training split; 0 = auto (the preset's recipe). */
  epochs: z.number().int().min(0).max(10_000),
  /** Images per optimiser step; 0 = auto (the preset's batch, halved until an epoch budget gives ≥ 300 steps). */
  batchSize: z.number().int().min(0).max(8192),
  /** Peak learning rate (for `constant`, the learning rate); 0 = auto (the preset's, scaled linearly with batch size). */
  lrMax: z.number().min(0).max(100),
  schedule: ScheduleSchema,
  /** Shape of the one-cycle ramps. */
  shape: z.enum(['linear', 'cosine']),
  /** Fraction of all steps spent rising to lrMax. */
  warmupFraction: z.number().min(0).max(1),
  /** The first learning rate is lrMax / startDiv. */
  startDiv: z.number().min(1).max(1e6),
  /** The last learning rate is lrMax / finalDiv. */
  finalDiv: z.number().min(1).max(1e6),
  /** SGD momentum at the ends of the cycle (and the constant schedule's momentum). */
  momentumMax: z.number().min(0).max(1),
  /** SGD momentum at the peak learning rate. */
  momentumMin: z.number().min(0).max(1),
  nesterov: z.boolean(),
  /** L2 weight decay added to the gradient (PyTorch SGD semantics); -1 = auto (the preset's). */
  weightDecay: z.number().min(-1).max(1),
  /** Leave batch-norm parameters and biases out of weight decay. */
  wdExcludeBnBias: z.boolean(),
  /** ε in the smoothed targets (1-ε)·onehot + ε/K. */
  labelSmoothing: z.number().min(0).max(0.99),
}).refine((o) => o.momentumMin <= o.momentumMax, {
  // One-cycle lowers momentum from max to min as the learning rate rises: min above max inverts it.
  message: 'momentum min must not be above momentum max',
  path: ['momentumMin'],
});

export const RunConfigSchema = z.object({
  data: DataConfigSchema,
  aug: AugConfigSchema,
  net: NetConfigSchema,
  opt: OptConfigSchema,
  backend: BackendNameSchema,
  /** Seeds weights, data order and augmentation: same seed + same backend ⇒ same metrics. */
  seed: z.number().int().min(0).max(2 ** 31 - 1),
});

export type RunConfig = z.infer<typeof RunConfigSchema>;

export const DEFAULT_RUN_CONFIG: RunConfig = {
  data: { dataset: 'synthetic', limitTrain: 0, limitVal: 0 },
  aug: { cropPadding: 4, flip: true, cutout: 0, tta: true },
  net: { arch: 'resnet-9-s' },
  opt: {
    epochs: 0,
    batchSize: 0,
    lrMax: 0,
    schedule: 'one-cycle',
    shape: 'linear',
    warmupFraction: 0.25,
    startDiv: 20,
    finalDiv: 1000,
    momentumMax: 0.95,
    momentumMin: 0.85,
    nesterov: true,
    weightDecay: -1,
    wdExcludeBnBias: false,
    labelSmoothing: 0.2,
  },
  backend: 'auto',
  seed: 0,
};

/** Deep-partial overrides, as the CLI flags and the UI form produce them. */
export type RunConfigPatch = { [K in keyof RunConfig]?: RunConfig[K] extends object ? Partial<RunConfig[K]> : RunConfig[K] };

export function mergeRunConfig(base: RunConfig, patch: RunConfigPatch): RunConfig {
  const merged = {
    ...base,
    ...patch,
    data: { ...base.data, ...patch.data },
    aug: { ...base.aug, ...patch.aug },
    net: { ...base.net, ...patch.net },
    opt: { ...base.opt, ...patch.opt },
  };
  return parseRunConfig(merged);
}

/** Validate, with an error that names the field and the bad value. */
export function parseRunConfig(value: unknown, what = 'run config'): RunConfig {
  const result = RunConfigSchema.safeParse(value);
  if (!result.success) throw new Error(formatZodError(result.error, what));
  return result.data;
}

/** The numbers a run actually uses once `auto` values are filled in; stored in the run record. */
export interface ResolvedOpt {
  epochs: number;
  batchSize: number;
  lrMax: number;
  weightDecay: number;
  trainCount: number;
  valCount: number;
  stepsPerEpoch: number;
  totalSteps: number;
  recipeSource: string;
}
