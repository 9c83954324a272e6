import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { TrainerHandle } from '../src-main/training/trainer-client.ts';
import type { TrainerMessage } from '../src-shared/trainer-protocol.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

/**
 * Fault injection through a checkpoint save: one run of a tiny model (4 steps an epoch, 4 epochs)
 * is trained by a chain of real trainer processes, each SIGKILLed by the test hook right after one
 * file operation of a save (KILN_TEST_KILL_AT), one hit by a full disk (KILN_TEST_ENOSPC_OP). Every
 * resume must continue from the last checkpoint whose pointer switch completed, and at the end the
 * metrics log holds every step and epoch exactly once and no leftover folder remains.
 */
vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const home = tempHome();
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const store = new RunStore(home);
const opLog = path.join(home, 'ops.log');

interface Leg {
  env: Record<string, string>;
  outcome: 'crashed' | 'failed' | 'paused' | 'finished';
  resumeAt: number;
}

async function trainOnce(runId: string, env: Record<string, string>): Promise<{ outcome: string; messages: TrainerMessage[] }> {
  const saved = { ...process.env };
  Object.assign(process.env, { KILN_WASM_THREADS: '1', KILN_TEST_OP_LOG: opLog, ...env });
  try {
    const handle = new TrainerHandle(home, runId);
    const messages: TrainerMessage[] = [];
    handle.on('message', (m) => messages.push(m));
    const { outcome } = await handle.done;
    return { outcome, messages };
  } finally {
    process.env = saved;
  }
}

/** The step of the last `latest` save whose pointer switch the op log shows done. */
function lastSwitchedStep(): number {
  const lines = fs.existsSync(opLog) ? fs.readFileSync(opLog, 'utf8').trim().split('\n') : [];
  const switched = lines.map((l) => /^\d+ switch-pointer latest@(\d+)$/.exec(l)).filter(Boolean);
  return Number(switched.at(-1)?.[1] ?? 0);
}

describe('checkpoint crash safety', () => {
  it('SIGKILL after every file operation of a save, and a full disk mid-save: each resume continues from the last complete checkpoint', async () => {
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      data: { dataset: 'synthetic', limitTrain: 128, limitVal: 64 },
      net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
      opt: { epochs: 4, batchSize: 32, lrMax: 0.8 },
      backend: 'wasm',
    });
    const { id } = await createRun(home, config);
    const kill = (at: string) => ({ KILN_TEST_KILL_AT: at });
    // One kill after each kind of state a save passes through: new folder incomplete, complete but
    // not pointed at, a temp pointer beside the old one, pointer switched but its folder not synced,
    // old folders being removed. Before the switch the previous checkpoint (step 4) is the one.
    const legs: Leg[] = [
      { env: kill('write-tensors latest@8'), outcome: 'crashed', resumeAt: 0 },
      { env: kill('rename-meta latest@8'), outcome: 'crashed', resumeAt: 4 },
      { env: kill('write-pointer latest@8'), outcome: 'crashed', resumeAt: 4 },
      { env: kill('switch-pointer latest@8'), outcome: 'crashed', resumeAt: 4 },
      { env: { KILN_TEST_ENOSPC_OP: 'tensors' }, outcome: 'failed', resumeAt: 8 },
      { env: kill('sync-parent latest@12'), outcome: 'crashed', resumeAt: 8 },
      { env: { KILN_PAUSE_AT_STEP: '14', KILN_TEST_KILL_AT: 'clean latest@14' }, outcome: 'crashed', resumeAt: 12 },
      { env: {}, outcome: 'finished', resumeAt: 14 },
    ];
    for (const [i, leg] of legs.entries()) {
      const { outcome, messages } = await trainOnce(id, leg.env);
      const label = `leg ${i} (${JSON.stringify(leg.env)})`;
      const started = messages.find((m) => m.type === 'started');
      expect(started, label).toMatchObject({ resumedAtStep: leg.resumeAt });
      expect(outcome, label).toBe(leg.outcome);
      if (leg.outcome === 'crashed') expect(lastSwitchedStep(), label).toBe(legs[i + 1]!.resumeAt);
      if (leg.outcome === 'failed') {
        const error = messages.find((m) => m.type === 'error');
        expect(error, label).toMatchObject({
          error: { message: expect.stringContaining('disk full while writing the latest checkpoint') },
        });
        expect((await store.get(id)).status).toBe('failed');
        // Nothing half-written stays beside the intact previous checkpoint.
        const left = fs.readdirSync(store.checkpointDir(id)).filter((f) => f.startsWith('latest') || f.startsWith('.latest'));
        expect(left).toHaveLength(2);
        expect(left).toContain('latest');
      }
    }
    expect((await store.get(id)).status).toBe('finished');
    const metrics = await store.readMetrics(id);
    expect(metrics.steps.map((s) => s.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(metrics.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    expect(metrics.tornTail).toBe(false);
    const names = fs.readdirSync(store.checkpointDir(id)).sort();
    expect(names.filter((n) => !/^(latest|best)(\.\d{6})?$/.test(n))).toEqual([]);
    expect(names.filter((n) => n.startsWith('latest.'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith('best.'))).toHaveLength(1);

    // Checkpoints lost (deleted by hand, a disk error): the trainer refuses rather than restart from step 0.
    fs.rmSync(store.checkpointDir(id), { recursive: true });
    fs.mkdirSync(store.checkpointDir(id));
    const lost = await trainOnce(id, {});
    expect(lost.messages.find((m) => m.type === 'started')).toBeUndefined();
    expect(lost.messages.find((m) => m.type === 'error')).toMatchObject({
      error: { message: expect.stringContaining(`run ${id} reached step 16 but has no complete checkpoint`) },
    });
  });
});
