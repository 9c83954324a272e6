import type { ArchSpec } from '../../src-shared/arch-spec.ts';
import { parseArchSpec } from '../../src-shared/arch-spec.ts';
import { findPreset, PRESETS } from '../engine/arch/presets.ts';
import type { RunConfig } from '../../src-shared/run-config.ts';
import { UsageError } from '../common/errors.ts';
import type { Recipe } from '../../src-shared/arch-types.ts';
import type { ResolvedOpt } from '../../src-shared/run-config.ts';

/** Fewer steps than this and a one-cycle run has too little room to warm up and anneal. */
export const MIN_AUTO_STEPS = 300;
const MIN_AUTO_BATCH = 32;

export function resolveArch(arch: RunConfig['net']['arch']): { spec: ArchSpec; recipe: Recipe; presetId?: string } {
  if (typeof arch === 'string') {
    const preset = findPreset(arch);
    if (!preset) throw new UsageError(`unknown architecture "${arch}"; expected one of ${PRESETS.map((p) => p.id).join(', ')} or a spec`);
    return { spec: preset.spec, recipe: preset.recipe, presetId: preset.id };
  }
  // Custom specs start from Page's recipe: it is the one that holds up best across widths here.
  return { spec: parseArchSpec(arch), recipe: findPreset('resnet-9')!.recipe };
}

/**
 * Fill in the `auto` optimiser values from the preset's recipe. A recipe's batch is halved while an
 * epoch budget would give fewer than MIN_AUTO_STEPS steps (small data or few epochs), and its learning
 * rate scales linearly with the batch (Goyal et al., 2017), so short runs stay sane without tuning.
 */
export function resolveOpt(config: RunConfig, recipe: Recipe, trainAvailable: number, valAvailable: number): ResolvedOpt {
  const trainCount = config.data.limitTrain > 0 ? Math.min(config.data.limitTrain, trainAvailable) : trainAvailable;
  const valCount = config.data.limitVal > 0 ? Math.min(config.data.limitVal, valAvailable) : valAvailable;
  const epochs = config.opt.epochs || recipe.epochs;
  let batchSize = config.opt.batchSize;
  if (!batchSize) {
    batchSize = recipe.batchSize;
    while (batchSize > MIN_AUTO_BATCH && Math.floor(trainCount / batchSize) * epochs < MIN_AUTO_STEPS) batchSize /= 2;
  }
  batchSize = Math.min(batchSize, trainCount);
  if (batchSize < 1) throw new UsageError(`the dataset has no training images`);
  const lrMax = config.opt.lrMax || (recipe.lrMax * batchSize) / recipe.batchSize;
  const weightDecay = config.opt.weightDecay >= 0 ? config.opt.weightDecay : recipe.weightDecay;
  const stepsPerEpoch = Math.floor(trainCount / batchSize);
  return { epochs, batchSize, lrMax, weightDecay, trainCount, valCount, stepsPerEpoch, totalSteps: stepsPerEpoch * epochs, recipeSource: recipe.source };
}
