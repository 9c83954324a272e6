/**
 * One heavy job in its own process (forked here, Electron's utilityProcess in the app), so tfjs
 * work never stalls the host's event loop and a crash in it never takes the host down: the
 * learning-rate range test, a run's evaluation, export and a prediction. Gets one request,
 * answers {type:'result', result} or {type:'error', error}, and exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serializeError } from '../common/errors.ts';
import { connectParent } from '../common/parent-end.ts';
import { parseRunConfig } from '../../src-shared/run-config.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import { jobBackend } from '../engine/backend/webgpu-backend.ts';
import { loadCurrentDataset, resolveDatasetId } from '../training/load-dataset.ts';
import { DEFAULT_LR_FIND, lrFind } from '../training/lr-find.ts';
import { JOB_CHANNEL, type JobRequest, type JobResults } from './job-protocol.ts';

// A parent that went away will never read the answer (and a job stuck in a kernel is killed 5 s later).
const parent = connectParent(JOB_CHANNEL, { orphanGraceMs: 5_000 });
parent.onParentGone(() => process.exit(1));

// The first message is the job; a later {type: 'cancel'} asks it to stop.
const cancel = new AbortController();

/** Progress goes out as it comes; nothing waits for it. */
function progress(event: unknown): void {
  void parent.send({ type: 'progress', event });
}

async function run(job: JobRequest): Promise<JobResults[JobRequest['kind']]> {
  switch (job.kind) {
    case 'importFolder': {
      // Decoding (sharp, libvips) happens here, never in the app's main process (png-encode.ts says why).
      const { importFolder } = await import('../datasets/import-folder.ts');
      const { DatasetStore } = await import('../datasets/dataset-store.ts');
      return importFolder(new DatasetStore(job.home), job.options, progress, cancel.signal);
    }
    case 'lrFind': {
      const config = parseRunConfig(job.config);
      await loadBackend(jobBackend(config.backend));
      const opts = { ...DEFAULT_LR_FIND, ...job.options };
      // Each step's point goes to the host as it comes, so the page can show progress and an ETA.
      const onPoint = (p: { step: number; lr: number; loss: number }) =>
        progress({ step: p.step, steps: opts.steps, lr: p.lr, loss: Number.isFinite(p.loss) ? p.loss : null });
      // A cancel stops it at the next step (lrFind rejects with an AbortError and disposes the model).
      return lrFind(
        await loadCurrentDataset(job.home, await resolveDatasetId(job.home, config.data.dataset)),
        config,
        { ...opts, onPoint },
        cancel.signal,
      );
    }
    case 'evaluate': {
      const { evaluateRun } = await import('../training/evaluate-run.ts');
      const { RunStore } = await import('../runs/run-store.ts');
      const record = await new RunStore(job.home).get(job.runId);
      return evaluateRun(job.home, job.runId, { backend: jobBackend(record.resolved.config.backend) });
    }
    case 'export': {
      const { exportRun } = await import('../training/export-run.ts');
      const result = await exportRun(job.home, job.runId, job.dir, job.options ?? {});
      return { dir: result.dir };
    }
    case 'predict': {
      const { Classifier } = await import('../training/predict.ts');
      // The decoder reads files; the image lives in a private temp folder for the moment it takes.
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-predict-'));
      try {
        const file = path.join(tmp, 'image');
        fs.writeFileSync(file, Buffer.from(job.imageBase64, 'base64'));
        const classifier = await Classifier.open(job.home, job.runId);
        try {
          const { predictions, failures } = await classifier.predictFiles([file], job.top);
          if (failures.length)
            throw Object.assign(new Error(`the image could not be read: ${failures[0]!.error.replace(file, 'image')}`), {
              name: 'DataError',
            });
          return { top: predictions[0]!.top };
        } finally {
          classifier.dispose();
        }
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }
  }
}

async function handle(job: JobRequest): Promise<void> {
  // Test hook: a main thread stuck in one long synchronous kernel, deaf to 'disconnect'.
  const block = Number(process.env.KILN_TEST_JOB_BLOCK_MS ?? 0);
  if (block) process.stderr.write(`kiln test: job ${process.pid} blocking\n`);
  for (const until = Date.now() + block; Date.now() < until;);
  let exitCode = 0;
  try {
    await parent.send({ type: 'result', result: await run(job) });
  } catch (err) {
    exitCode = 1;
    await parent.send({ type: 'error', error: serializeError(err) });
  }
  parent.leave(exitCode);
}

let started = false;
parent.onMessage((m) => {
  if (m.type === 'job' && !started) {
    started = true;
    void handle(m.job);
  } else if (m.type === 'cancel') cancel.abort();
});
