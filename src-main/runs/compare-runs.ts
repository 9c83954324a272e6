import type { RunMetrics, RunRecord, StepMetric } from '../../src-shared/run-types.ts';
import type { RunComparison, StepPoint } from '../../src-shared/run-comparison.ts';

export interface RunWithMetrics {
  record: RunRecord;
  metrics: RunMetrics;
}

export const MAX_STEP_POINTS = 500;

export function compareRuns(inputs: readonly RunWithMetrics[], maxStepPoints = MAX_STEP_POINTS): RunComparison {
  const ids = inputs.map((r) => r.record.id);
  if (new Set(ids).size !== ids.length) throw new Error(`compareRuns: a run is listed twice (${ids.join(', ')})`);

  const runs = inputs.map(({ record, metrics }) => ({
    id: record.id,
    name: record.name,
    status: record.status,
    final: record.final ?? null,
    best: record.best ?? null,
    wallSeconds: record.wallSeconds,
    epochs: metrics.epochs.length,
    steps: metrics.steps.length,
    origin: record.origin ?? null,
  }));

  const epochNumbers = [...new Set(inputs.flatMap((r) => r.metrics.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
  const epochMaps = inputs.map((r) => new Map(r.metrics.epochs.map((e) => [e.epoch, e])));
  const byEpoch = epochNumbers.map((epoch) => ({
    epoch,
    values: Object.fromEntries(ids.map((id, i) => [id, epochMaps[i]!.get(epoch) ?? null])),
  }));

  const stepMaps = inputs.map((r) => new Map(decimateSteps(r.metrics.steps, maxStepPoints).map((p) => [p.step, p.point])));
  const stepNumbers = [...new Set(stepMaps.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  const byStep = stepNumbers.map((step) => ({
    step,
    values: Object.fromEntries(ids.map((id, i) => [id, stepMaps[i]!.get(step) ?? null])),
  }));

  return { runs, byEpoch, byStep, configDiff: diffSettings(inputs.map((r) => r.record)) };
}

/**
 * At most `max` points: consecutive logged steps are grouped in equal buckets (by index, so runs
 * logged at the same stride bucket alike and stay aligned); a bucket is placed at its last step,
 * with the mean loss and the last lr/momentum.
 */
export function decimateSteps(steps: readonly StepMetric[], max: number): { step: number; point: StepPoint }[] {
  const size = Math.max(1, Math.ceil(steps.length / Math.max(1, max)));
  const out: { step: number; point: StepPoint }[] = [];
  for (let start = 0; start < steps.length; start += size) {
    const bucket = steps.slice(start, start + size);
    const last = bucket[bucket.length - 1]!;
    const losses = bucket.map((s) => s.loss).filter((l): l is number => l !== null);
    const loss = losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null;
    out.push({ step: last.step, point: { loss, lr: last.lr, momentum: last.momentum, epoch: last.epoch, t: last.t, n: bucket.length } });
  }
  return out;
}

/**
 * The settings a comparison looks at, flattened to dotted paths, each once: a config field shows the value the
 * run trained with (its frozen config, so `auto` shows as what it became), the architecture as built under
 * `arch.*` (a preset's id, or a custom spec's name, under `net.arch`), and the derived counts under `resolved.*`.
 */
export function runSettings(record: RunRecord): Map<string, unknown> {
  const out = new Map<string, unknown>();
  // The frozen config, what each run trained with (auto values as what they became), each setting once.
  const { config, presetId, autoRules: _why, ...derived } = record.resolved;
  const { net, ...trained } = config;
  flatten(trained, '', out);
  out.set('net.arch', presetId ?? net.arch.name ?? 'custom');
  flatten(net.arch, 'arch', out);
  flatten(derived, 'resolved', out);
  out.set('dataset.id', record.dataset.id);
  out.set('dataset.manifestHash', record.dataset.manifestHash);
  if (record.backend) flatten(record.backend, 'trainedOn', out);
  return out;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined) {
    out.set(prefix || '(root)', value);
  }
}

function diffSettings(records: readonly RunRecord[]): RunComparison['configDiff'] {
  const settings = records.map(runSettings);
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const s of settings) {
    for (const p of s.keys()) {
      if (seen.has(p)) continue;
      seen.add(p);
      paths.push(p);
    }
  }
  const diff: RunComparison['configDiff'] = [];
  for (const p of paths) {
    const values = settings.map((s) => (s.has(p) ? s.get(p) : null));
    const first = JSON.stringify(values[0]);
    if (values.every((v) => JSON.stringify(v) === first)) continue;
    diff.push({ path: p, values: Object.fromEntries(records.map((r, i) => [r.id, values[i]])) });
  }
  return diff;
}
