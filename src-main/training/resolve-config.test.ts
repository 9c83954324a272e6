import { describe, expect, it } from 'vitest';
import { BASE_OPT, MAX_AUTO_EPOCHS, MIN_AUTO_BATCH, MIN_AUTO_STEPS, resolveArch, resolveRun, TARGET_AUTO_STEPS } from './resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, ResolvedConfigSchema } from '../../src-shared/run-config.ts';
import { findPreset } from '../engine/arch/presets.ts';

describe('resolveRun', () => {
  it('takes the full recipe on full CIFAR-10: every field the recipe sets, not only the auto four', () => {
    const r = resolveRun(mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: 'resnet-9' } }), 50_000, 10_000);
    expect(r).toMatchObject({
      config: { opt: { epochs: 24, batchSize: 512, lrMax: 0.4, weightDecay: 5e-4 } },
      stepsPerEpoch: 97,
      totalSteps: 24 * 97,
      presetId: 'resnet-9',
    });
    // Page's warm-up of 5/24 of the steps, his 8-pixel cutout, constant momentum 0.9, no label smoothing.
    expect(r.config.opt).toMatchObject({
      warmupFraction: 5 / 24,
      startDiv: 1e4,
      finalDiv: 1e4,
      momentumMax: 0.9,
      momentumMin: 0.9,
      labelSmoothing: 0,
      shape: 'linear',
    });
    expect(r.config.aug.cutout).toBe(8);
    // The architecture is stored as its spec, so the run never needs the preset again.
    expect(r.config.net.arch).toEqual(findPreset('resnet-9')!.spec);
    expect(ResolvedConfigSchema.safeParse(r.config).success).toBe(true);
  });

  it('falls back to the base defaults for a field the recipe does not set', () => {
    const recipe = findPreset('wrn-22')!.recipe;
    expect(recipe.opt.labelSmoothing).toBe(0);
    const r = resolveRun(mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: 'wrn-22' } }), 50_000, 10_000);
    expect(r.config.opt).toMatchObject({ warmupFraction: 0.4, finalDiv: 2000, momentumMax: 0.95 });
    expect(r.config.opt.nesterov).toBe(DEFAULT_RUN_CONFIG.opt.nesterov);
    expect(BASE_OPT.shape).toBe('linear');
  });

  it('shrinks the batch and scales the learning rate for a small budget', () => {
    const cfg = mergeRunConfig(DEFAULT_RUN_CONFIG, { opt: { epochs: 4 }, data: { dataset: 'cifar10', limitTrain: 10_000 } });
    const r = resolveRun(cfg, 50_000, 10_000);
    expect(r.config.opt.batchSize).toBe(128);
    expect(r.config.opt.lrMax).toBeCloseTo(0.1, 12);
    expect(r.totalSteps).toBeGreaterThanOrEqual(300);
    expect(r.config.opt).toMatchObject({ batchSize: 128, epochs: 4 });
  });

  it("keeps what the person set, over the recipe's values", () => {
    const cfg = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      opt: { epochs: 2, batchSize: 64, lrMax: 0.05, weightDecay: 0, warmupFraction: 0.5, labelSmoothing: 0.1 },
      aug: { cutout: 0 },
    });
    const r = resolveRun(cfg, 1000, 100);
    expect(r).toMatchObject({ config: { opt: { epochs: 2, batchSize: 64, lrMax: 0.05, weightDecay: 0 } }, stepsPerEpoch: 15 });
    expect(r.config.opt).toMatchObject({ warmupFraction: 0.5, labelSmoothing: 0.1 });
    expect(r.config.aug.cutout).toBe(0);
  });

  it('names a recipe and request that disagree in a way the schema refuses', () => {
    const cfg = mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: 'wrn-22' }, opt: { momentumMax: 0.8 } });
    expect(() => resolveRun(cfg, 1000, 100)).toThrow(/opt\.momentumMin: momentum min must not be above momentum max/);
  });

  it('trains small datasets for more epochs when epochs are left to the recipe, and says why', () => {
    // 245 photos (the newcomer's folder): batch 16 gives 15 steps an epoch; 24 epochs would be 360 steps.
    const r = resolveRun(DEFAULT_RUN_CONFIG, 245, 153);
    expect(r).toMatchObject({
      config: { opt: { batchSize: MIN_AUTO_BATCH, epochs: Math.ceil(TARGET_AUTO_STEPS / 15) } },
      stepsPerEpoch: 15,
    });
    expect(r.totalSteps).toBeGreaterThanOrEqual(TARGET_AUTO_STEPS);
    expect(r.config.opt.lrMax).toBeCloseTo((0.4 * 16) / 512, 12);
    expect(r.autoRules).toEqual([
      `batch 16: the recipe's 512, halved so 245 images × 24 epochs give ≥ ${TARGET_AUTO_STEPS} steps (as far as the floor of 16 allows)`,
      `epochs ${r.config.opt.epochs}: the recipe's 24, raised for a small dataset (245 images, 15 steps an epoch) to give ≥ ${TARGET_AUTO_STEPS} steps`,
    ]);
    // Tiny folders: capped.
    expect(resolveRun(DEFAULT_RUN_CONFIG, 40, 10)).toMatchObject({
      config: { opt: { batchSize: 16, epochs: MAX_AUTO_EPOCHS } },
      stepsPerEpoch: 2,
    });
    // Big enough datasets keep the recipe's length; mid-sized ones get smaller batches first.
    expect(resolveRun(DEFAULT_RUN_CONFIG, 50_000, 10_000).config.opt.epochs).toBe(24);
    expect(resolveRun(DEFAULT_RUN_CONFIG, 5_000, 1_000).config.opt).toMatchObject({ epochs: 24, batchSize: 128 });
    // Epochs set by the person stay; the batch still shrinks, down to the floor, and the rule says so.
    const ten = resolveRun(mergeRunConfig(DEFAULT_RUN_CONFIG, { opt: { epochs: 10 } }), 245, 153);
    expect(ten).toMatchObject({ config: { opt: { epochs: 10, batchSize: 16 } }, totalSteps: 150 });
    expect(ten.autoRules).toEqual([
      `batch 16: the recipe's 512, halved so 245 images × 10 epochs give ≥ ${MIN_AUTO_STEPS} steps (as far as the floor of 16 allows)`,
    ]);
  });

  it('names an unknown preset', () => {
    expect(() => resolveArch('resnet-1000')).toThrow(/unknown architecture "resnet-1000"/);
  });
});
