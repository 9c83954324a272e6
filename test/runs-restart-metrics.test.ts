import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { TrainerHandle } from '../src-main/training/trainer-client.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

const home = tempHome();
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

async function trainOnce(runId: string, env: Record<string, string>): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, { KILN_WASM_THREADS: '1', ...env });
  try {
    return (await new TrainerHandle(home, runId).done).outcome;
  } finally {
    process.env = saved;
  }
}

describe('a run restarted without a checkpoint', () => {
  it(
    'rewinds its metrics to step 0: every step and epoch is logged once',
    async () => {
      const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
        data: { dataset: 'synthetic', limitTrain: 128, limitVal: 64 },
        net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
        opt: { epochs: 2, batchSize: 32, lrMax: 0.8 },
        backend: 'wasm',
      });
      const { id } = await createRun(home, config);
      const store = new RunStore(home);
      // Killed while writing its first checkpoint: epoch 1's lines are logged, no checkpoint is complete.
      expect(await trainOnce(id, { KILN_TEST_KILL_AT: 'write-tensors latest@4' })).toBe('crashed');
      expect((await store.readMetrics(id)).steps.length).toBeGreaterThan(0);
      expect((await store.get(id)).progress.step).toBe(0);
      expect(await trainOnce(id, {})).toBe('finished');
      // The file itself, line by line (readers keep one line per step, which would hide repeats).
      const lines = fs
        .readFileSync(path.join(store.runDir(id), 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; step?: number; epoch?: number });
      expect(lines.filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(lines.filter((l) => l.type === 'epoch').map((l) => l.epoch)).toEqual([1, 2]);
    },
    PROCESS_TEST_TIMEOUT,
  );
});
