/**
 * The one contract between the renderer and Kiln's services, as VS Code's ProxyChannel: every method
 * and event is declared here once. The main process (Electron IPC) and `kiln serve` (WebSocket) validate
 * each call's arguments with `METHOD_ARGS` before it reaches a service; the renderer imports only types.
 * Errors cross the boundary as `{name, message}`.
 */
import { z } from 'zod';
import { ArchSpecSchema, type ArchSpec } from './arch-spec.ts';
import { RunConfigSchema, type Recipe, type RunConfig } from './run-config.ts';
import type { DatasetManifest, DatasetMoves } from './dataset-manifest.ts';
import type { DownloadProgressEvent, ImportProgressEvent } from './dataset-progress.ts';
import type { RunRecord, RunMetrics } from './run-types.ts';
import type { TrainerProgress } from './trainer-protocol.ts';
import type { SerializedError } from './errors.ts';
import type { BackendStatus } from './backends.ts';
import type { EpochMetrics, LrFindResult } from './train-types.ts';
import type { RunComparison } from './run-comparison.ts';
import type { ArchSummary } from './arch-types.ts';
import { ExportRequestSchema } from './export-format.ts';
import { BackboneNameSchema, type BackboneList, type BackboneProgress, type BackboneStatus } from './backbones.ts';

const id = z.string().min(1).max(200);
/** A file-system path the person typed or picked: long enough for any real one, short enough to log. */
const fsPath = z.string().min(1).max(4096);
const split = z.enum(['train', 'val']);
const count = z.number().int().min(0);

/** Arguments of every method, as a tuple schema. Adding a method starts here. */
export const METHOD_ARGS = {
  'app.info': z.tuple([]),

  'settings.get': z.tuple([]),
  'settings.set': z.tuple([
    z.object({
      theme: z.enum(['light', 'dark', 'system']).optional(),
      lastDataset: z.string().max(200).optional(),
      defaultRunConfig: RunConfigSchema.optional(),
    }),
  ]),

  'datasets.list': z.tuple([]),
  'datasets.get': z.tuple([id]),
  /** Refused with DatasetInUseError (naming the runs) when runs used the dataset, unless force. */
  'datasets.remove': z.tuple([id, z.object({ force: z.boolean().optional() }).optional()]),
  /** The runs trained on a dataset: what deleting it would affect. */
  'datasets.usage': z.tuple([id]),
  'datasets.rename': z.tuple([id, z.string().min(1).max(200)]),
  /** A page of one class's images, as PNG data. */
  'datasets.page': z.tuple([id, split, count.max(255), count, z.number().int().min(1).max(500)]),
  'datasets.image': z.tuple([id, split, count]),
  /** Starts a download; progress arrives as `datasetTask` events with the returned task id. */
  'datasets.downloadCifar10': z.tuple([
    z.object({
      url: z.url().max(2048).optional(),
      file: z.string().min(1).max(4096).optional(),
      sha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/i)
        .optional(),
      md5: z
        .string()
        .regex(/^[0-9a-f]{32}$/i)
        .optional(),
    }),
  ]),
  /**
   * What an import of this folder would find, before it starts: classes, file count, and the image size
   * the import picks when `size` is left out (from the images' resolution: 64 for photos, 32 for small images).
   */
  'datasets.inspectFolder': z.tuple([fsPath]),
  /** Starts an import of a folder the person chose (picker or drop). Without `size`, the import picks it as inspectFolder says. */
  'datasets.importFolder': z.tuple([
    z.object({
      folder: fsPath,
      name: z.string().max(200).optional(),
      size: z.number().int().min(8).max(256).optional(),
      forBackbone: BackboneNameSchema.optional(),
      valSplit: z.number().min(0).max(0.9).optional(),
      seed: count.optional(),
      fit: z.enum(['crop', 'pad']).optional(),
    }),
  ]),
  'datasets.cancelTask': z.tuple([id]),
  /** Leave an image out of new runs (true) or take it back (false); the stored image stays. */
  'datasets.setExcluded': z.tuple([id, split, count, z.boolean()]),
  /** Give an image another class (its index) in new runs, or null to move it back; the stored image and label stay. */
  'datasets.setMoved': z.tuple([id, split, count, count.nullable()]),
  /**
   * A browser's folder, sent file by file (kiln serve cannot read a path on the person's machine):
   * begin with the file count, total bytes and the dataset's name (checked before anything is sent), send each file's chunks in order (base64, at most 4 MiB
   * each), then importUpload runs the same import as importFolder on it and removes it; uploadCancel drops it.
   */
  'datasets.uploadBegin': z.tuple([
    z.object({ files: z.number().int().min(1).max(10_000_000), bytes: count, name: z.string().max(200).optional() }),
  ]),
  'datasets.uploadChunk': z.tuple([id, z.string().min(1).max(2000), count, z.string().max((4 * 1024 * 1024 * 4) / 3 + 4)]),
  'datasets.importUpload': z.tuple([
    id,
    z.object({
      name: z.string().max(200).optional(),
      size: z.number().int().min(8).max(256).optional(),
      forBackbone: BackboneNameSchema.optional(),
      valSplit: z.number().min(0).max(0.9).optional(),
      seed: count.optional(),
      fit: z.enum(['crop', 'pad']).optional(),
    }),
  ]),
  'datasets.uploadCancel': z.tuple([id]),
  /** Electron only: a native folder picker; null when cancelled or not available. */
  'datasets.pickFolder': z.tuple([]),

  /** Pretrained ImageNet backbones: which are known, which are on this machine, their size and licence. */
  'backbones.list': z.tuple([]),
  /**
   * Fetch a backbone's pinned weights (resumable, SHA-256 checked); resolves when they are in place, with
   * `backboneProgress` events meanwhile. `acceptLicence` says the person saw the licence note (backbones.list).
   */
  'backbones.download': z.tuple([BackboneNameSchema, z.object({ acceptLicence: z.literal(true) })]),
  'backbones.cancelDownload': z.tuple([BackboneNameSchema]),
  /** Install a local safetensors file: checked against the pinned SHA-256, or with `unverified` only its tensor names and shapes. */
  'backbones.add': z.tuple([BackboneNameSchema, fsPath, z.object({ unverified: z.boolean().optional() }).optional()]),

  'archs.presets': z.tuple([]),
  /** Layer table, parameters and FLOPs for a spec at an input size and class count. */
  'archs.summarize': z.tuple([ArchSpecSchema, z.number().int().min(8).max(1024), z.number().int().min(2).max(256)]),
  'archs.listCustom': z.tuple([]),
  'archs.saveCustom': z.tuple([z.string().min(1).max(80), ArchSpecSchema]),
  'archs.removeCustom': z.tuple([z.string().min(1).max(80)]),

  'runs.list': z.tuple([]),
  'runs.get': z.tuple([id]),
  'runs.metrics': z.tuple([id]),
  'runs.start': z.tuple([RunConfigSchema, z.string().max(200).optional()]),
  'runs.pause': z.tuple([id]),
  'runs.resume': z.tuple([id]),
  'runs.stop': z.tuple([id]),
  'runs.remove': z.tuple([id]),
  /** Remove a lock left by a trainer this host cannot check (another host, a restarted container). */
  'runs.unlock': z.tuple([id]),
  'runs.rename': z.tuple([id, z.string().min(1).max(200)]),
  /** The person's notes and tags on a run; a field left out stays as it is. */
  'runs.annotate': z.tuple([
    id,
    z.object({ notes: z.string().max(10_000).optional(), tags: z.array(z.string().trim().min(1).max(40)).max(32).optional() }),
  ]),
  'runs.compare': z.tuple([z.array(id).min(2).max(12)]),
  'runs.evaluate': z.tuple([id]),
  'runs.evaluation': z.tuple([id]),
  /** Writes the run's model to a folder: TensorFlow.js layers (default) or ONNX (NCHW unless `layout` says NHWC). */
  'runs.export': z.tuple([id, fsPath, ExportRequestSchema.optional()]),
  /** Top-k classes for an image file's bytes (any format the importer reads). */
  'runs.predict': z.tuple([id, z.string().min(1).max(30_000_000), z.number().int().min(1).max(20).optional()]),
  /** The LR range test; the options default to 100 steps from 1e-5 to 10. */
  'runs.lrFind': z.tuple([
    RunConfigSchema,
    z
      .object({
        steps: z.number().int().min(10).max(1000).optional(),
        startLr: z.number().positive().max(100).optional(),
        endLr: z.number().positive().max(1000).optional(),
        /** The caller's name for this test: its `lrFindProgress` events carry it, and runs.lrFindCancel takes it. */
        findId: z.string().min(1).max(100).optional(),
      })
      .optional(),
  ]),
  /** Stop an LR range test started with this findId; its runs.lrFind call rejects with an AbortError. */
  'runs.lrFindCancel': z.tuple([z.string().min(1).max(100)]),
  /** How long a run of this config would train here, before it starts: from past runs on this machine, else rough. */
  'runs.estimate': z.tuple([RunConfigSchema]),
} as const;

export type MethodName = keyof typeof METHOD_ARGS;
export type MethodArgs<M extends MethodName> = z.infer<(typeof METHOD_ARGS)[M]>;

export interface PresetInfo {
  id: string;
  title: string;
  spec: ArchSpec;
  recipe: Recipe;
  summary: ArchSummary;
}

export interface DatasetInfo {
  manifest:
    | DatasetManifest
    | { id: string; name: string; builtIn: true; classes: string[]; counts: { train: number; val: number }; imageSize: number };
  classCounts: { train: number[]; val: number[] };
  /** Images left out of new runs, by index in each split (none for built-in datasets). */
  excluded?: { train: number[]; val: number[]; moved?: DatasetMoves };
}

export interface ImageItem {
  index: number;
  label: number;
  /** PNG bytes, base64. */
  png: string;
  /** The file it was imported from, relative to the imported folder (folder imports only). */
  source?: string;
}

export interface FolderInspection {
  folder: string;
  layout: 'class-folders' | 'split-folders';
  classes: { name: string; files: number }[];
  files: number;
  /** Median short side of a sample of the images, in pixels (null when none could be read). */
  medianShortSide: number | null;
  /** The size an import picks when none is given. */
  suggestedSize: number;
  /** Why it picks that size, for the form: "photos: median short side 270 px". */
  sizeReason: string;
  warnings: string[];
}

export interface Evaluation {
  tta: boolean;
  accuracy: number;
  ttaAccuracy: number;
  classes: string[];
  /** confusion[true][predicted], counts. */
  confusion: number[][];
  ttaConfusion: number[][];
  perClass: { name: string; accuracy: number; ttaAccuracy: number }[];
  /**
   * The most confident mistakes. `index` is the image's place in the validation split; `source` is the
   * file it was imported from, relative to `sourceFolder` (folder imports only).
   */
  mistakes: { index: number; trueClass: number; predicted: number; confidence: number; tta: boolean; source?: string }[];
  /** The folder the dataset was imported from (absolute), when it was a folder import. */
  sourceFolder?: string;
  /**
   * The images in each non-empty cell of the (non-TTA) confusion matrix, most confident first, at
   * most MAX_CELL_IMAGES per cell: what clicking a cell shows. Absent in evaluations made before it.
   */
  cells?: { trueClass: number; predicted: number; images: { index: number; confidence: number; source?: string }[] }[];
}

export interface Prediction {
  top: { className: string; probability: number }[];
}

export interface Settings {
  theme: 'light' | 'dark' | 'system';
  lastDataset?: string;
  defaultRunConfig: RunConfig;
}

/** What each method resolves to. */
/** A run's training time before it starts. `past`: from runs here with the same architecture and image size; `rough`: scaled or assumed (the note says which). */
export interface RunEstimate {
  seconds: number;
  basis: 'past' | 'rough';
  note: string;
}

export interface MethodResults {
  'app.info': { version: string; home: string; electron: boolean; backends: BackendStatus[] };
  'settings.get': Settings;
  'settings.set': Settings;
  'datasets.list': DatasetInfo['manifest'][];
  'datasets.get': DatasetInfo;
  'datasets.remove': void;
  'datasets.usage': { runs: { id: string; name: string; status: string }[] };
  'datasets.rename': DatasetInfo['manifest'];
  'datasets.page': { total: number; items: ImageItem[] };
  'datasets.image': ImageItem;
  'datasets.downloadCifar10': { taskId: string };
  'datasets.inspectFolder': FolderInspection;
  'datasets.importFolder': { taskId: string };
  'datasets.cancelTask': void;
  'datasets.setExcluded': { train: number[]; val: number[]; moved?: DatasetMoves };
  'datasets.setMoved': { train: number[]; val: number[]; moved?: DatasetMoves };
  'datasets.uploadBegin': { uploadId: string; maxBytes: number };
  'datasets.uploadChunk': { bytes: number };
  'datasets.importUpload': { taskId: string };
  'datasets.uploadCancel': void;
  'datasets.pickFolder': string | null;
  'backbones.list': BackboneList;
  'backbones.download': BackboneStatus;
  'backbones.cancelDownload': void;
  'backbones.add': BackboneStatus;
  'archs.presets': PresetInfo[];
  'archs.summarize': ArchSummary;
  'archs.listCustom': { name: string; spec: ArchSpec }[];
  'archs.saveCustom': void;
  'archs.removeCustom': void;
  'runs.list': RunRecord[];
  'runs.get': RunRecord;
  'runs.metrics': RunMetrics;
  'runs.start': RunRecord;
  'runs.pause': void;
  'runs.resume': RunRecord;
  'runs.stop': void;
  'runs.remove': void;
  'runs.unlock': RunRecord;
  'runs.rename': RunRecord;
  'runs.annotate': RunRecord;
  'runs.compare': RunComparison;
  'runs.evaluate': Evaluation;
  'runs.evaluation': Evaluation | null;
  'runs.export': { dir: string };
  'runs.predict': Prediction;
  'runs.lrFind': LrFindResult;
  'runs.lrFindCancel': void;
  'runs.estimate': RunEstimate;
}

/** Events pushed from the services to every connected renderer. */
export interface KilnEvents {
  datasetTask: {
    taskId: string;
    kind: 'download' | 'import';
    event: DownloadProgressEvent | ImportProgressEvent | { phase: 'error'; error: SerializedError };
  };
  runProgress: TrainerProgress;
  runEpoch: { runId: string; metrics: EpochMetrics };
  runStatus: { runId: string; status: RunRecord['status']; error?: SerializedError };
  lrFindProgress: { findId: string; step: number; steps: number; lr: number; loss: number | null };
  /** The desktop app only: a newer release exists (its version and release page). */
  appUpdate: { version: string; url: string };
  backboneProgress: BackboneProgress;
}
export type EventName = keyof KilnEvents;

type Methods = { [M in MethodName]: (...args: MethodArgs<M>) => Promise<MethodResults[M]> };

/**
 * `window.kiln` in the app, and the WebSocket client in a browser: the renderer cannot tell which.
 * A failed call rejects with a value that has `name` and `message` (the service's error): an Error
 * from the browser client, a plain object over the Electron bridge (which would drop an Error's name).
 */
export interface KilnApi {
  call<M extends MethodName>(method: M, ...args: MethodArgs<M>): Promise<MethodResults[M]>;
  on<E extends EventName>(event: E, listener: (payload: KilnEvents[E]) => void): () => void;
  /** Electron only: the file-system path of a dropped File (a folder dropped for import). */
  pathForFile?(file: File): string;
}

/** Service implementations the hosts (Electron main, `kiln serve`) dispatch to. */
export type KilnHandlers = Methods;

/** Fixed IPC channel names. */
export { IPC_INVOKE, IPC_EVENT } from './ipc-channels.ts';

/** Validate a call's arguments; the error names the method and the argument. */
export function parseArgs<M extends MethodName>(method: M, args: unknown): MethodArgs<M> {
  const schema = METHOD_ARGS[method];
  if (!schema) throw Object.assign(new Error(`unknown method "${String(method)}"`), { name: 'UnknownMethodError' });
  const result = schema.safeParse(args);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `argument ${issue.path.join('.')}` : 'arguments';
    throw Object.assign(new Error(`${method}: ${where}: ${issue.message}`), { name: 'ValidationError' });
  }
  return result.data as MethodArgs<M>;
}

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(METHOD_ARGS, name);
}
