import { parseArchSpec, type ArchSpec } from '../../src-shared/arch-spec.ts';
import { findPreset, PRESETS } from '../engine/arch/presets.ts';
import { ResolvedConfigSchema, type Recipe, type ResolvedConfig, type ResolvedRun, type RunConfig } from '../../src-shared/run-config.ts';
import { formatZodError } from '../../src-shared/zod-error.ts';
import { UsageError } from '../common/errors.ts';

/** Fewer steps than this and a one-cycle run has too little room to warm up and anneal. */
export const MIN_AUTO_STEPS = 300;
const MIN_AUTO_BATCH = 32;

/**
 * The defaults under every recipe: what a field gets when neither the person nor the preset's recipe sets
 * it (fast.ai's one-cycle defaults). A new recipe-able field gets its base value here.
 */
export const BASE_OPT: Omit<ResolvedConfig['opt'], 'epochs' | 'batchSize' | 'lrMax' | 'weightDecay' | 'schedule' | 'nesterov' | 'wdExcludeBnBias'> = {
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
  if (typeof arch === 'string') {
    const preset = findPreset(arch);
    if (!preset) throw new UsageError(`unknown architecture "${arch}"; expected one of ${PRESETS.map((p) => p.id).join(', ')} or a spec`);
    return { spec: preset.spec, recipe: preset.recipe, presetId: preset.id };
  }
  // Custom specs start from Page's recipe: it is the one that holds up best across widths here.
  return { spec: parseArchSpec(arch), recipe: findPreset('resnet-9')!.recipe };
}

/** The request's own choices: null (recipe-able fields) and the 0 / −1 auto values are not choices. */
function chosen<T extends object>(section: T, autoWhen: Partial<Record<keyof T, unknown>> = {}): Partial<T> {
  return Object.fromEntries(Object.entries(section).filter(([k, v]) => v !== null && v !== undefined && !(k in autoWhen && autoWhen[k as keyof T] === v))) as Partial<T>;
}

/**
 * Resolve a request once, completely, when its run is created: base defaults, under the preset's recipe, under
 * the person's choices. Left to the recipe, the batch is halved while an epoch budget would give fewer than
 * MIN_AUTO_STEPS steps (small data or few epochs), and the learning rate scales linearly with the batch
 * (Goyal et al., 2017), so short runs stay sane without tuning.
 */
export function resolveRun(request: RunConfig, trainAvailable: number, valAvailable: number): ResolvedRun {
  const { spec, recipe, presetId } = resolveArch(request.net.arch);
  const trainCount = request.data.limitTrain > 0 ? Math.min(request.data.limitTrain, trainAvailable) : trainAvailable;
  const valCount = request.data.limitVal > 0 ? Math.min(request.data.limitVal, valAvailable) : valAvailable;
  const own = chosen(request.opt, { epochs: 0, batchSize: 0, lrMax: 0, weightDecay: -1 });
  const opt = { ...BASE_OPT, ...recipe.opt, ...own } as ResolvedConfig['opt'];
  if (own.batchSize === undefined) {
    while (opt.batchSize > MIN_AUTO_BATCH && Math.floor(trainCount / opt.batchSize) * opt.epochs < MIN_AUTO_STEPS) opt.batchSize /= 2;
  }
  opt.batchSize = Math.min(opt.batchSize, trainCount);
  if (opt.batchSize < 1) throw new UsageError(`the dataset has no training images`);
  if (own.lrMax === undefined) opt.lrMax = (recipe.opt.lrMax * opt.batchSize) / recipe.opt.batchSize;
  const aug = { ...BASE_AUG, ...recipe.aug, ...chosen(request.aug) } as ResolvedConfig['aug'];
  const parsed = ResolvedConfigSchema.safeParse({ ...request, aug, opt, net: { arch: spec } });
  if (!parsed.success) throw new UsageError(formatZodError(parsed.error, 'run config (with the recipe applied)'));
  const config = parsed.data;
  const stepsPerEpoch = Math.floor(trainCount / config.opt.batchSize);
  return {
    config,
    ...(presetId ? { presetId } : {}),
    recipeSource: recipe.source,
    epochs: config.opt.epochs,
    batchSize: config.opt.batchSize,
    lrMax: config.opt.lrMax,
    weightDecay: config.opt.weightDecay,
    trainCount,
    valCount,
    stepsPerEpoch,
    totalSteps: stepsPerEpoch * config.opt.epochs,
  };
}
