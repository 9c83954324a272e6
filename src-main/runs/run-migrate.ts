import { RUN_FORMAT } from '../../src-shared/run-types.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Brings a run.json of an older format to the current one, before it is validated; anything else passes
 * through unchanged (the schema then names what is wrong). The next write stores the new format.
 *
 * Format 1: `config` (the request, auto spelt 0 / −1), top-level `arch` (the spec built) and `seed`, and
 * `resolved` holding the four auto values it trained with (epochs, batch, LR, weight decay) and the counts.
 * Format 2: the same, plus `resolved.config`, the complete config it trained with (absent in hand-made records).
 * Format 3: `request` and a required `resolved` whose `config` is the one config; no `arch`, `seed` or flat values.
 *
 * Formats 1 and 2 trained with their config as stored except those four auto values, so the complete config is
 * rebuilt exactly when `resolved.config` is missing. A record with no `resolved` at all was never written by a
 * released Kiln: it stays without one, and the schema reports the missing field.
 */
export function migrateRunRecord(value: unknown): unknown {
  if (!isObject(value) || (value.format !== 1 && value.format !== 2)) return value;
  const { config: request, arch, seed: _seed, resolved, ...rest } = value;
  const next: Json = { ...rest, format: RUN_FORMAT, request };
  const dataset = isObject(value.dataset) ? value.dataset : {};
  if (isObject(resolved)) {
    const { epochs, batchSize, lrMax, weightDecay, config, ...derived } = resolved;
    const stepsPerEpoch = resolved.stepsPerEpoch as number;
    const rebuilt =
      isObject(request) && isObject(request.opt)
        ? { ...request, opt: { ...request.opt, epochs, batchSize, lrMax, weightDecay }, net: { arch } }
        : undefined;
    next.resolved = {
      ...derived,
      config: isObject(config) ? config : rebuilt,
      recipeSource: resolved.recipeSource ?? `unknown (a format ${value.format} run record)`,
      trainCount: resolved.trainCount ?? dataset.train,
      valCount: resolved.valCount ?? dataset.val,
      totalSteps: resolved.totalSteps ?? (epochs as number) * stepsPerEpoch,
      autoRules: resolved.autoRules ?? [],
    };
  }
  return next;
}
