import { RUN_FORMAT } from '../../src-shared/run-types.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Brings a run.json of an older format to the current one, before it is validated; anything else passes
 * through unchanged (the schema then names what is wrong). The next write stores the new format.
 *
 * Format 1 → 2: format 1 trained with its config as stored, except the four auto values (epochs, batch,
 * LR, weight decay), which its `resolved` held; so the complete config it ran with is rebuilt exactly.
 * A format 1 record without `resolved` stays without it: it can be evaluated and exported (its `arch` is
 * the spec it trained), not resumed.
 */
export function migrateRunRecord(value: unknown): unknown {
  if (!isObject(value) || value.format !== 1) return value;
  const next: Json = { ...value, format: RUN_FORMAT };
  const config = value.config;
  const resolved = value.resolved;
  const dataset = isObject(value.dataset) ? value.dataset : {};
  if (isObject(config) && isObject(resolved) && isObject(config.opt)) {
    const epochs = resolved.epochs as number;
    const stepsPerEpoch = resolved.stepsPerEpoch as number;
    next.resolved = {
      ...resolved,
      config: {
        ...config,
        opt: { ...config.opt, epochs, batchSize: resolved.batchSize, lrMax: resolved.lrMax, weightDecay: resolved.weightDecay },
        net: { arch: value.arch },
      },
      recipeSource: resolved.recipeSource ?? 'unknown (a format 1 run record)',
      trainCount: resolved.trainCount ?? dataset.train,
      valCount: resolved.valCount ?? dataset.val,
      totalSteps: resolved.totalSteps ?? epochs * stepsPerEpoch,
    };
  }
  return next;
}
