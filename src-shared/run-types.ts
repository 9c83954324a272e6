import { z } from 'zod';
import { ResolvedRunSchema, RunConfigSchema } from './run-config.ts';
import { datasetMovesSchema } from './dataset-manifest.ts';

/**
 * What run.json and metrics.jsonl hold. run.json is read by the CLI, the app and the
 * headless server, possibly written by a newer Kiln: objects are loose so a field this
 * version does not know survives a read-modify-write instead of being stripped.
 */

/**
 * 3: `request` (as asked, null = auto) and a required `resolved` (the frozen config and its derived counts) are
 * the only config; no top-level arch or seed. Older records are migrated on read (runs/run-migrate.ts).
 */
export const RUN_FORMAT = 3;
export const RUN_NOTES_MAX = 10_000;
export const RUN_TAG_MAX = 40;
export const RUN_TAGS_MAX = 32;

/**
 * Parses like z.looseObject (unknown keys pass through, so they survive a rewrite) but types like
 * z.object: code only sees the fields it knows, and patches of them stay type-checked.
 */
function loose<T extends z.ZodRawShape>(shape: T): z.ZodObject<T> {
  return z.looseObject(shape) as unknown as z.ZodObject<T>;
}

/** `diverged`: the loss blew up (NaN, or far above its start for several steps) and the run was ended there. */
export const RunStatusSchema = z.enum(['queued', 'running', 'paused', 'stopped', 'finished', 'failed', 'interrupted', 'diverged']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** Statuses after which no trainer will touch the run again without a resume. */
export const SETTLED_STATUSES: readonly RunStatus[] = ['paused', 'stopped', 'finished', 'failed', 'interrupted', 'diverged'];

const iso = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);
const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const fraction = z.number().min(0).max(1);
/** A loss is null when it was NaN or infinite (a diverged run): JSON has no NaN. */
const loss = finite.nullable();

export const RunDatasetSchema = loose({
  id: z.string().min(1),
  name: z.string(),
  manifestHash: z.string(),
  classes: z.array(z.string()),
  /** Images in each split as trained (after limitTrain / limitVal). */
  train: count,
  val: count,
  /** Images left out (indices in the stored splits): the dataset's exclusion list when the run was created. */
  excluded: z.object({ train: z.array(count), val: z.array(count), moved: datasetMovesSchema.optional() }).optional(),
});
export type RunDataset = z.infer<typeof RunDatasetSchema>;

/** Where a fine-tuned run's weights came from (`config.initFrom`), as it stood when the run was created. */
export const RunOriginSchema = loose({
  runId: z.string().min(1),
  runName: z.string(),
  /** The source run's checkpoint that was copied, and the epoch it was written after. */
  checkpoint: z.enum(['best', 'latest']),
  epoch: count,
  valAcc: fraction.nullable(),
  dataset: loose({ id: z.string(), name: z.string() }),
  classes: z.array(z.string()),
  /** `kept` when the class lists are identical; otherwise the head was drawn afresh from the run's seed. */
  head: z.enum(['kept', 'reinitialised']),
  /** The parameters not copied (the head's, when re-initialised). */
  reinitialised: z.array(z.string()),
});
export type RunOrigin = z.infer<typeof RunOriginSchema>;

export const RunRecordSchema = loose({
  format: z.literal(RUN_FORMAT),
  id: z.string().min(1),
  name: z.string().min(1),
  status: RunStatusSchema,
  /** Set when status is `failed` (and kept as the last error otherwise). */
  error: z.object({ name: z.string(), message: z.string() }).optional(),
  /** Set when a run finishes with a weak result for a reason Kiln can name: one line, with the change to try. */
  hint: z.string().optional(),
  /** Set when status is `diverged`: where (step, epoch, the learning rate then), the losses, and what to try. */
  diverged: loose({ step: count, epoch: count, lr: finite, loss: loss, startLoss: finite, advice: z.string() }).optional(),
  /** The config as asked for (null means auto: the recipe's). Kept to show what was asked and to run it again. */
  request: RunConfigSchema,
  /** The config resolved once, at creation, frozen: what the run trains with, and all that any reader reads. */
  resolved: ResolvedRunSchema,
  /** Set when the run started from another run's weights. */
  origin: RunOriginSchema.optional(),
  dataset: RunDatasetSchema,
  /** The backend and device that actually trained (config.backend may say `auto`). */
  backend: loose({
    name: z.string(),
    device: z.string(),
    /** The WebGPU adapter (vendor, architecture, description; software = a CPU implementation). */
    adapter: loose({ vendor: z.string(), architecture: z.string(), description: z.string(), software: z.boolean() }).optional(),
    /** Where the steps ran when not in the trainer process itself (a GPU run in the app: Chromium's WebGPU). */
    runsIn: z.string().optional(),
    /** Why `auto` did not train on the GPU (no hardware adapter, a failed WebGPU self-check): one line. */
    fallback: z.string().optional(),
    /** Set when each batch ran as `parts` micro-batches of at most `size` images with accumulated gradients. */
    microBatch: loose({ size: count, parts: count, note: z.string() }).optional(),
  }).optional(),
  versions: loose({ kiln: z.string(), tfjs: z.string(), node: z.string() }),
  host: loose({
    hostname: z.string(),
    platform: z.string(),
    arch: z.string(),
    cpus: count,
    memoryGiB: z.number().min(0),
  }),
  createdAt: iso,
  /** First start of training; resumes keep it. */
  startedAt: iso.optional(),
  /** When the run reached stopped, finished or failed. */
  endedAt: iso.optional(),
  /** `epoch`: the epoch in progress, 1-based as people count (the last one once all are done); `step`: steps taken. */
  progress: loose({ epoch: count, step: count, totalSteps: count }),
  best: loose({ valAcc: fraction, ttaAcc: fraction.nullable().optional(), epoch: count }).optional(),
  final: loose({ valAcc: fraction, ttaAcc: fraction.nullable().optional(), valLoss: loss }).optional(),
  /**
   * The evaluation of a checkpoint on the whole validation split (eval/evaluation.json), as every view shows it: the
   * one accuracy and TTA figure of a finished run (the per-epoch scores may be of a sample).
   */
  evaluation: loose({ checkpoint: z.enum(['best', 'latest']), epoch: count, valAcc: fraction, ttaAcc: fraction }).optional(),
  /** Training time summed over all sessions (pauses and downtime excluded), in seconds. */
  wallSeconds: z.number().min(0),
  /** The person's notes on the run (free text) and tags (short labels to filter the runs table by). */
  notes: z.string().max(RUN_NOTES_MAX).optional(),
  tags: z.array(z.string().min(1).max(RUN_TAG_MAX)).max(RUN_TAGS_MAX).optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/**
 * Fields of run.json that update() may not change: the id names the folder, the format is the store's, and what
 * the run was asked and resolved to (with the data it was resolved against) is frozen at creation.
 */
export const FROZEN_RUN_FIELDS = ['id', 'format', 'request', 'resolved', 'dataset'] as const;
export type RunPatch = Partial<Omit<RunRecord, (typeof FROZEN_RUN_FIELDS)[number]>>;

/** One optimiser step (written at a stride chosen by the engine). `t`: wall seconds since run start, across resumes. */
export const StepMetricSchema = loose({
  type: z.literal('step'),
  step: count,
  epoch: count,
  loss,
  lr: finite,
  momentum: finite,
  t: z.number().min(0),
});
export type StepMetric = z.infer<typeof StepMetricSchema>;

/** One finished epoch. Accuracies are fractions in 0..1; `seconds` is that epoch's training time. */
export const EpochMetricSchema = loose({
  type: z.literal('epoch'),
  epoch: count,
  step: count,
  trainLoss: loss,
  trainAcc: fraction,
  valLoss: loss,
  valAcc: fraction,
  ttaAcc: fraction.optional(),
  lr: finite,
  imagesPerSec: z.number().min(0),
  seconds: z.number().min(0),
  /** Validation images behind valAcc: a fixed sample after each epoch but the last (older runs: absent, the whole split). */
  valImages: count.optional(),
  t: z.number().min(0),
});
export type EpochMetric = z.infer<typeof EpochMetricSchema>;

export type MetricLine = StepMetric | EpochMetric;

export interface RunMetrics {
  /** Sorted by step; a step logged twice (a session resumed from an earlier checkpoint) keeps the later line. */
  steps: StepMetric[];
  /** Sorted by epoch, deduplicated the same way. */
  epochs: EpochMetric[];
  /** True when the file ended in a partial line (a crash mid-append); that line is ignored. */
  tornTail: boolean;
}
