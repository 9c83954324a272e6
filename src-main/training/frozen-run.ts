import { UsageError } from '../common/errors.ts';
import type { ResolvedRun } from '../../src-shared/run-config.ts';
import type { RunRecord } from '../../src-shared/run-types.ts';

/**
 * The resolved config a run stored when it was created: the only source of its network and schedule for a
 * trainer (first start or resume). A record without one (made by hand, or a format 1 record that never had
 * `resolved`) is refused rather than re-resolved from today's presets, which may differ from the run's.
 */
export function frozenRun(record: RunRecord): ResolvedRun {
  const r = record.resolved;
  if (!r?.config || r.trainCount === undefined || r.valCount === undefined || r.totalSteps === undefined) {
    throw new UsageError(`run ${record.id}: run.json has no complete resolved config (resolved.config); it was not created by \`kiln train\` or the app, so it cannot be trained or resumed`);
  }
  return {
    config: r.config,
    ...(r.presetId ? { presetId: r.presetId } : {}),
    recipeSource: r.recipeSource ?? '',
    epochs: r.epochs,
    batchSize: r.batchSize,
    lrMax: r.lrMax,
    weightDecay: r.weightDecay,
    trainCount: r.trainCount,
    valCount: r.valCount,
    stepsPerEpoch: r.stepsPerEpoch,
    totalSteps: r.totalSteps,
  };
}
