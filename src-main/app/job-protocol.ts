import { fileURLToPath } from 'node:url';
import { defineChannel } from '../common/child-channel.ts';
import type { SerializedError } from '../../src-shared/errors.ts';
import type { RunConfig } from '../../src-shared/run-config.ts';
import type { ExportRequest } from '../../src-shared/export-format.ts';
import type { Evaluation, Prediction } from '../../src-shared/contract.ts';
import type { LrFindResult } from '../../src-shared/train-types.ts';
import type { ImportFolderOptions, ImportFolderSummary } from '../datasets/import-folder.ts';

/** The heavy jobs a host runs in a child process (job-entry.ts), and what each answers. */
export type JobRequest =
  | { kind: 'lrFind'; home: string; config: RunConfig; options?: { steps?: number; startLr?: number; endLr?: number } }
  | { kind: 'evaluate'; home: string; runId: string }
  | { kind: 'export'; home: string; runId: string; dir: string; options?: ExportRequest }
  | { kind: 'predict'; home: string; runId: string; imageBase64: string; top: number }
  | { kind: 'importFolder'; home: string; options: ImportFolderOptions };

export interface JobResults {
  lrFind: LrFindResult;
  evaluate: Evaluation;
  export: { dir: string };
  predict: Prediction;
  importFolder: ImportFolderSummary;
}

export type JobResult<R extends JobRequest> = JobResults[R['kind']];

/** Host → job: the job (first and once), then perhaps a cancel. */
export type JobDown = { type: 'job'; job: JobRequest } | { type: 'cancel' };
/** Job → host: progress as it comes, then one answer. */
export type JobUp =
  | { type: 'progress'; event: unknown }
  | { type: 'result'; result: JobResults[JobRequest['kind']] }
  | { type: 'error'; error: SerializedError };

export const JOB_CHANNEL = defineChannel<JobDown, JobUp>({
  name: 'job',
  entry: 'job-entry',
  source: fileURLToPath(new URL('./job-entry.ts', import.meta.url)),
  final: ['result', 'error'],
});
export type JobChannel = typeof JOB_CHANNEL;
