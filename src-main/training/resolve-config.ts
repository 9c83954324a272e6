import { parseArchSpec, type ArchSpec } from '../../src-shared/arch-spec.ts';
import { findPreset, PRESETS } from '../engine/arch/presets.ts';
import { ResolvedConfigSchema, type Recipe, type ResolvedConfig, type ResolvedRun, type RunConfig } from '../../src-shared/run-config.ts';
import { didYouMean } from '../common/did-you-mean.ts';
import { ConfigFieldError, UsageError } from '../common/errors.ts';

/** Fewer steps than this and a one-cycle run has too little room to warm up and anneal. */
export const MIN_AUTO_STEPS = 300;
/** The auto batch is halved no further than this (batch norm needs a few images per batch). */
export const MIN_AUTO_BATCH = 16;
/**
 * Auto epochs: when the recipe's epochs give fewer optimiser steps than this (small datasets), the run
 * trains for more epochs, up to MAX_AUTO_EPOCHS. A recipe tuned on 50,000 images takes thousands of
 * steps; a few hundred photos at the recipe's 24 epochs get a few hundred and stop half-trained.
 */
export const TARGET_AUTO_STEPS = 600;
export const MAX_AUTO_EPOCHS = 100;

/** The rule in words, for `kiln train --help`, the README and the app. */
export const AUTO_RULE_TEXT =
  `batch: the recipe's, halved (not below ${MIN_AUTO_BATCH}) until the run has ${TARGET_AUTO_STEPS} steps (${MIN_AUTO_STEPS} when you set --epochs); ` +
  `learning rate: the recipe's, scaled with the batch; epochs: the recipe's, raised for small datasets until the run has ` +
  `${TARGET_AUTO_STEPS} steps (at most ${MAX_AUTO_EPOCHS} epochs)`;

/**
 * The defaults under every recipe: what a field gets when neither the person nor the preset's recipe sets
 * it (fast.ai's one-cycle defaults). A new recipe-able field gets its base value here.
 */
export const BASE_OPT: Omit<
  ResolvedConfig['opt'],
  'epochs' | 'batchSize' | 'lrMax' | 'weightDecay' | 'schedule' | 'nesterov' | 'wdExcludeBnBias' | 'freezeEpochs'
> = {
  shape: 'linear',
  warmupFraction: 0.25,
  startDiv: 20,
  finalDiv: 1000,
  momentumMax: 0.95,
  momentumMin: 0.85,
  labelSmoothing: 0.2,
};
export const BASE_AUG: Pick<ResolvedConfig['aug'], 'cutout'> = { cutout: 0 };

export function resolveArch(arch: RunConfig['net']['arch']): { spec: ArchSpec; recipe: Recipe; presetId?: string } {
  if (arch === null)
    throw new ConfigFieldError(
      'net.arch',
      'auto (null) means the architecture of the run a fine-tune starts from: set initFrom, or choose an architecture',
    );
  if (typeof arch === 'string') {
    const preset = findPreset(arch);
    if (!preset)
      throw new UsageError(
        `unknown architecture "${arch}"; expected one of ${PRESETS.map((p) => p.id).join(', ')} or a spec${didYouMean(
          arch,
          PRESETS.map((p) => p.id),
        )}`,
      );
    return { spec: preset.spec, recipe: preset.recipe, presetId: preset.id };
  }
  // Custom specs start from Page's recipe: it is the one that holds up best across widths here.
  return { spec: parseArchSpec(arch), recipe: findPreset('resnet-9')!.recipe };
}

/** The request's own choices: null (auto: the recipe's) is not a choice. */
function chosen<T extends object>(section: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(section).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}

/**
 * Resolve a request once, completely, when its run is created: base defaults, under the preset's recipe, under
 * the person's choices. Left to the recipe, the batch is halved (not below MIN_AUTO_BATCH) while the run would
 * have fewer than MIN_AUTO_STEPS steps (TARGET_AUTO_STEPS with auto epochs), the learning rate scales linearly
 * with the batch (Goyal et al., 2017), and auto epochs are raised for small datasets until the run has
 * TARGET_AUTO_STEPS steps. So short runs and small folders train sanely untuned; autoRules says what happened.
 */
export function resolveRun(
  request: RunConfig,
  trainAvailable: number,
  valAvailable: number,
  /** A recipe other than the architecture's (a pretrained backbone's fast or fine-tune recipe), and whether auto epochs may rise. */
  override: { recipe?: Recipe; raiseEpochs?: boolean } = {},
): ResolvedRun {
  const arch = resolveArch(request.net.arch);
  const { spec, presetId } = arch;
  const recipe = override.recipe ?? arch.recipe;
  const trainCount = request.data.limitTrain > 0 ? Math.min(request.data.limitTrain, trainAvailable) : trainAvailable;
  const valCount = request.data.limitVal > 0 ? Math.min(request.data.limitVal, valAvailable) : valAvailable;
  const own = chosen(request.opt);
  const opt = { ...BASE_OPT, ...recipe.opt, ...own } as ResolvedConfig['opt'];
  if (trainCount < 1) throw new UsageError(`the dataset has no training images`);
  const autoRules: string[] = [];
  const recipeBatch = opt.batchSize;
  if (own.batchSize === undefined) {
    // With auto epochs, smaller batches come first: more steps at the recipe's length, and only then more epochs.
    const wanted = own.epochs === undefined ? TARGET_AUTO_STEPS : MIN_AUTO_STEPS;
    while (opt.batchSize > MIN_AUTO_BATCH && Math.floor(trainCount / opt.batchSize) * opt.epochs < wanted) opt.batchSize /= 2;
    opt.batchSize = Math.min(opt.batchSize, trainCount);
    const floorNote =
      Math.floor(trainCount / opt.batchSize) * opt.epochs < wanted ? ` (as far as the floor of ${MIN_AUTO_BATCH} allows)` : '';
    autoRules.push(
      opt.batchSize === recipeBatch
        ? `batch ${opt.batchSize}: the recipe's`
        : `batch ${opt.batchSize}: the recipe's ${recipeBatch}, halved so ${trainCount.toLocaleString('en-US')} images × ${opt.epochs} epoch${opt.epochs === 1 ? '' : 's'} give ≥ ${wanted} steps${floorNote}`,
    );
  }
  opt.batchSize = Math.min(opt.batchSize, trainCount);
  if (own.epochs === undefined) {
    const perEpoch = Math.floor(trainCount / opt.batchSize);
    if (perEpoch * opt.epochs < TARGET_AUTO_STEPS && override.raiseEpochs !== false) {
      const recipeEpochs = opt.epochs;
      opt.epochs = Math.min(MAX_AUTO_EPOCHS, Math.ceil(TARGET_AUTO_STEPS / perEpoch));
      autoRules.push(
        `epochs ${opt.epochs}: the recipe's ${recipeEpochs}, raised for a small dataset (${trainCount.toLocaleString('en-US')} images, ${perEpoch} steps an epoch) ` +
          `to give ≥ ${TARGET_AUTO_STEPS} steps${opt.epochs === MAX_AUTO_EPOCHS ? ` (capped at ${MAX_AUTO_EPOCHS} epochs)` : ''}`,
      );
    } else autoRules.push(`epochs ${opt.epochs}: the recipe's`);
  }
  if (own.lrMax === undefined) opt.lrMax = (recipe.opt.lrMax * opt.batchSize) / recipe.opt.batchSize;
  const aug = { ...BASE_AUG, ...recipe.aug, ...chosen(request.aug) } as ResolvedConfig['aug'];
  const parsed = ResolvedConfigSchema.safeParse({ ...request, aug, opt, net: { arch: spec } });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigFieldError(issue.path.join('.') || '(root)', issue.message);
  }
  const config = parsed.data;
  const stepsPerEpoch = Math.floor(trainCount / config.opt.batchSize);
  return {
    config,
    ...(presetId ? { presetId } : {}),
    recipeSource: recipe.source,
    trainCount,
    valCount,
    stepsPerEpoch,
    totalSteps: stepsPerEpoch * config.opt.epochs,
    autoRules,
  };
}
