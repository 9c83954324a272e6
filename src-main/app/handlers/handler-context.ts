import type { DatasetStore } from '../../datasets/dataset-store.ts';
import type { ImportFolderOptions } from '../../datasets/import-folder.ts';
import type { ProxyResolver } from '../../datasets/proxy.ts';
import type { UploadStore } from '../../datasets/upload-store.ts';
import type { Transport } from '../../common/child-channel.ts';
import type { KilnEvents, KilnHandlers } from '../../../src-shared/contract.ts';
import type { ImportProgressEvent } from '../../../src-shared/dataset-progress.ts';
import type { CustomArchStore } from '../custom-archs.ts';
import type { DailyLog } from '../daily-log.ts';
import type { JobLimitsOption, JobRunner } from '../job-runner.ts';
import type { RunManager } from '../run-manager.ts';
import type { RemoteLimits } from '../safe-paths.ts';
import type { SettingsStore } from '../settings-store.ts';
import type { TaskManager } from '../task-manager.ts';

export type EmitEvent = <E extends keyof KilnEvents>(event: E, payload: KilnEvents[E]) => void;

export interface KilnServicesOptions {
  home: string;
  /** Pushes an event to every connected renderer. */
  emit: EmitEvent;
  /** How trainers start: child_process.fork by default, Electron's utilityProcess in the app. */
  /** How trainers are started (fork by default; utility processes or the GPU trainer page in the app). */
  spawner?: Transport;
  /** How heavy jobs (LR range test, evaluation, export, prediction) run out of process; a fork of job-entry.ts by default. */
  jobs?: JobRunner;
  /** settings.json under the home by default; electron-store in the app. */
  settings?: SettingsStore;
  /** The app's native folder picker; without one datasets.pickFolder answers null. */
  pickFolder?: () => Promise<string | null>;
  electron?: boolean;
  /** The system's proxy for a download URL: Electron's resolver in the app; direct connections otherwise. */
  proxyFor?: ProxyResolver;
  /** Cap on one browser upload's total bytes (default DEFAULT_UPLOAD_MAX_BYTES). */
  uploadMaxBytes?: number;
  /** An upload that receives nothing for this long is dropped (default DEFAULT_UPLOAD_IDLE_MS). */
  uploadIdleMs?: number;
  /** Set when clients may be remote (`kiln serve --allow-remote`): what they may touch on this disk. */
  remote?: RemoteLimits;
  /** How long a trainer may take to pause or stop before it is killed (default 120 s). */
  stopTimeoutMs?: number;
  /** Trainers at once (default 8). */
  maxTrainers?: number;
  /** Limits of the heavy-job pool when `jobs` is not given. */
  jobLimits?: JobLimitsOption;
}

/** What every handler module serves from: the stores and managers of one Kiln home. */
export interface HandlerContext {
  home: string;
  opts: KilnServicesOptions;
  log: DailyLog;
  datasets: DatasetStore;
  archs: CustomArchStore;
  settings: SettingsStore;
  runs: RunManager;
  tasks: TaskManager;
  jobs: JobRunner;
  uploads: UploadStore;
  /** Image decoding runs in a job process: a decoder crash ends the import, not the host (png-encode.ts says why). */
  importInJob(options: ImportFolderOptions, onProgress: (e: ImportProgressEvent) => void, signal: AbortSignal): Promise<unknown>;
}

/** The contract methods of one namespace (`datasets.*`, `runs.*`, …). */
export type HandlersOf<NS extends string> = Pick<KilnHandlers, Extract<keyof KilnHandlers, `${NS}.${string}`>>;
