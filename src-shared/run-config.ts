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

/**
 * Fields a preset's recipe may set. In a request (RunConfig) each may be null: "the recipe's" (or the base
 * default under every recipe, when the recipe says nothing). A resolved config has them all concrete.
 */
function augShape<R extends boolean>(request: R) {
  const recipe = <T extends z.ZodType>(s: T) => (request ? s.nullable() : s) as R extends true ? z.ZodNullable<T> : T;
  return {
    /** Reflect-pad by this many pixels, then crop back to size at a random offset (0 = off). */
    cropPadding: z.number().int().min(0).max(16),
    flip: z.boolean(),
    /** Side of the square cutout in pixels (0 = off). */
    cutout: recipe(z.number().int().min(0).max(64)),
    /** Evaluate also with test-time augmentation (mean of the image and its flip). */
    tta: z.boolean(),
  };
}

export const NetConfigSchema = z.object({
  /**
   * A preset id (`wrn-22`, `resnet-9`, `resnet-9-s`) or an architecture spec. null = auto, for a fine-tune only:
   * the architecture of the run it starts from (a fine-tune keeps its source's architecture).
   */
  arch: z.union([z.string().min(1).max(200), ArchSpecSchema]).nullable(),
});

export const ScheduleSchema = z.enum(['one-cycle', 'constant']);

/**
 * A request's auto value is null. Records and drafts from before format 3 spelt it 0 (epochs, batch, LR) or −1
 * (weight decay, where 0 is a real choice): that legacy spelling is read as null, so parsed configs hold only null.
 */
function autoNull<T extends z.ZodType>(s: T, legacyAuto: number) {
  return z.preprocess((v) => (v === legacyAuto ? null : v), s.nullable());
}

function optShape<R extends boolean>(request: R) {
  const recipe = <T extends z.ZodType>(s: T) => (request ? s.nullable() : s) as R extends true ? z.ZodNullable<T> : T;
  const auto = <T extends z.ZodType>(s: T, legacyAuto: number) =>
    (request ? autoNull(s, legacyAuto) : s) as R extends true ? z.ZodNullable<T> : T;
  return {
    /** Passes over the training split; null = auto (the preset's recipe, more for small datasets). */
    epochs: auto(z.number().int().min(1).max(10_000), 0),
    /** Images per optimiser step; null = auto (the preset's batch, halved until an epoch budget gives ≥ 300 steps). */
    batchSize: auto(z.number().int().min(1).max(8192), 0),
    /** Peak learning rate (for `constant`, the learning rate); null = auto (the preset's, scaled linearly with batch size). */
    lrMax: auto(z.number().positive().max(100), 0),
    schedule: ScheduleSchema,
    /** Shape of the one-cycle ramps. */
    shape: recipe(z.enum(['linear', 'cosine'])),
    /** Fraction of all steps spent rising to lrMax. */
    warmupFraction: recipe(z.number().min(0).max(1)),
    /** The first learning rate is lrMax / startDiv. */
    startDiv: recipe(z.number().min(1).max(1e6)),
    /** The last learning rate is lrMax / finalDiv. */
    finalDiv: recipe(z.number().min(1).max(1e6)),
    /** SGD momentum at the ends of the cycle (and the constant schedule's momentum). */
    momentumMax: recipe(z.number().min(0).max(1)),
    /** SGD momentum at the peak learning rate. */
    momentumMin: recipe(z.number().min(0).max(1)),
    nesterov: z.boolean(),
    /** L2 weight decay added to the gradient (PyTorch SGD semantics); null = auto (the preset's). */
    weightDecay: auto(z.number().min(0).max(1), -1),
    /** Leave batch-norm parameters and biases out of weight decay. */
    wdExcludeBnBias: z.boolean(),
    /** ε in the smoothed targets (1-ε)·onehot + ε/K. */
    labelSmoothing: recipe(z.number().min(0).max(0.99)),
    /** With initFrom: train only the head for this many epochs, then everything (0 = none). */
    freezeEpochs: z.number().int().min(0).max(10_000).default(0),
  };
}

// One-cycle lowers momentum from max to min as the learning rate rises: min above max inverts it.
const momentumOrder = {
  message: 'momentum min must not be above momentum max',
  path: ['momentumMin'],
  // Checked whenever both are numbers, even while another field of opt is invalid (zod skips an object's
  // refinements then), so a form shows every problem at once.
  when: ({ value }: { value: unknown }) => {
    const o = value as { momentumMin?: unknown; momentumMax?: unknown } | null;
    return typeof o?.momentumMin === 'number' && typeof o.momentumMax === 'number';
  },
};
const momentumOk = (o: { momentumMin: number | null; momentumMax: number | null }) =>
  o.momentumMin === null || o.momentumMax === null || o.momentumMin <= o.momentumMax;

/** `initFrom` naming a pretrained ImageNet backbone rather than a past run. */
export const IMAGENET_PREFIX = 'imagenet:';
export const TransferModeSchema = z.enum(['auto', 'fast', 'fine-tune']);
export type TransferMode = z.infer<typeof TransferModeSchema>;
/** Auto picks the fast mode below this many training images: features once, a head in seconds. */
export const FAST_MODE_MAX_IMAGES = 3000;

/** A run that starts from a pretrained backbone, as resolved at creation. */
export const ResolvedBackboneSchema = z.object({
  name: z.string().min(1).max(80),
  mode: z.enum(['fast', 'fine-tune']),
  /** The backbone's input normalisation (ImageNet's), used instead of the dataset's everywhere the run is read. */
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number(), z.number(), z.number()]),
  /** Fine-tune: the body's learning rate is the head's times this. */
  bodyLrScale: z.number().min(0).max(1),
  /** SHA-256 of the weights file the run started from, and whether it matched the pin (`kiln backbone add --unverified`: false). */
  sha256: z.string(),
  verified: z.boolean(),
});
export type ResolvedBackbone = z.infer<typeof ResolvedBackboneSchema>;

export const AugConfigSchema = z.object(augShape(true));
export const OptConfigSchema = z.object(optShape(true)).refine(momentumOk, momentumOrder);

export const RunConfigSchema = z.object({
  data: DataConfigSchema,
  aug: AugConfigSchema,
  net: NetConfigSchema,
  opt: OptConfigSchema,
  backend: BackendNameSchema,
  /**
   * Fine-tuning: start from this past run's best weights (same architecture; the head is drawn
   * afresh when the class lists differ). Absent: from the seed's random initialisation.
   */
  initFrom: z.string().min(1).max(200).optional(),
  /**
   * With `initFrom: 'imagenet:NAME'`: `fast` freezes the backbone, computes each image's features once (cached)
   * and trains a new head on them; `fine-tune` trains everything (the body at a lower learning rate). Absent or
   * `auto`: fast for folders under FAST_MODE_MAX_IMAGES training images.
   */
  transfer: TransferModeSchema.optional(),
  /** Seeds weights, data order and augmentation: same seed + same backend ⇒ same metrics. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
});

export type RunConfig = z.infer<typeof RunConfigSchema>;

/**
 * Everything a run uses, concrete: the request with the preset's recipe merged under the person's choices and
 * the auto rules applied, the architecture as a spec. Stored whole in run.json (`resolved.config`); resume,
 * evaluation, export and prediction read only this, never the presets of the code that happens to run.
 */
export const ResolvedConfigSchema = z.object({
  data: DataConfigSchema,
  aug: z.object(augShape(false)),
  net: z.object({ arch: ArchSpecSchema }),
  opt: z.object(optShape(false)).refine(momentumOk, momentumOrder),
  backend: BackendNameSchema,
  /** The run a fine-tune started from (its weights are linked into the run folder when it is created). */
  initFrom: z.string().min(1).max(200).optional(),
  /** Set when initFrom names an ImageNet backbone. */
  backbone: ResolvedBackboneSchema.optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
});
export type ResolvedConfig = z.infer<typeof ResolvedConfigSchema>;

/**
 * A preset's recipe: the settings its source used, as defaults a request's choices override (nanoGPT's config
 * files over its base). Any field of opt or aug may appear; `source` says where the numbers come from.
 */
export interface Recipe {
  source: string;
  opt: Partial<ResolvedConfig['opt']> & Pick<ResolvedConfig['opt'], 'epochs' | 'batchSize' | 'lrMax' | 'weightDecay'>;
  aug?: Partial<ResolvedConfig['aug']>;
}

export const DEFAULT_RUN_CONFIG: RunConfig = {
  data: { dataset: 'synthetic', limitTrain: 0, limitVal: 0 },
  aug: { cropPadding: 4, flip: true, cutout: null, tta: true },
  net: { arch: 'resnet-9-s' },
  opt: {
    epochs: null,
    batchSize: null,
    lrMax: null,
    schedule: 'one-cycle',
    shape: null,
    warmupFraction: null,
    startDiv: null,
    finalDiv: null,
    momentumMax: null,
    momentumMin: null,
    nesterov: true,
    weightDecay: null,
    wdExcludeBnBias: false,
    labelSmoothing: null,
    freezeEpochs: 0,
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

const count = z.number().int().min(0);

/**
 * What run.json keeps as `resolved`, written once when the run is created and never changed: the complete
 * config, and the numbers derived from it and the dataset. The one thing the trainer, resume, evaluation,
 * export, prediction, comparison and the runs table read.
 */
export const ResolvedRunSchema = z.object({
  config: ResolvedConfigSchema,
  /** The preset the request named, if any (the spec itself is config.net.arch). */
  presetId: z.string().optional(),
  /** Where the recipe's numbers come from. */
  recipeSource: z.string(),
  /** Images per split as trained (after limitTrain / limitVal and exclusions). */
  trainCount: count,
  valCount: count,
  stepsPerEpoch: count,
  totalSteps: count,
  /** How each auto value was chosen, one sentence each (batch, epochs), for `kiln runs show` and the app. */
  autoRules: z.array(z.string()),
});
export type ResolvedRun = z.infer<typeof ResolvedRunSchema>;
