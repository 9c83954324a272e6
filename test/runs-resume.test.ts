import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { readCheckpointMeta } from '../src-main/engine/train/checkpoint.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';
import {
  kiln,
  PROCESS_TEST_TIMEOUT,
  loggedSteps,
  maxRelativeDiff,
  runIdOf,
  spawnKiln,
  tinyTrainArgs,
  waitUntil,
  writeTinySpec,
  type KilnProcess,
} from './fixtures/kiln-process.ts';

/**
 * Pause and resume through real `kiln` processes: a run paused mid-epoch and resumed reaches the
 * per-epoch metrics of the same run trained without a pause; Ctrl-C pauses; stop ends a run.
 */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT, hookTimeout: PROCESS_TEST_TIMEOUT });

let home: string;
let store: RunStore;
let spec: string;
const started: KilnProcess[] = [];
let straight: KilnProcess;
let paused: KilnProcess;
let ctrlC: KilnProcess;

beforeAll(() => {
  home = tempHome();
  store = new RunStore(home);
  spec = writeTinySpec(home);
  const start = (args: string[], env?: Record<string, string>) => {
    const p = spawnKiln(args, env);
    started.push(p);
    return p;
  };
  // Three trainers at once; the first two share a config, the second pauses itself after step 6 (of 12; epoch 2 has steps 5..8).
  straight = start(tinyTrainArgs(home, spec, ['--json', '--name', 'straight']));
  paused = start(tinyTrainArgs(home, spec, ['--name', 'paused']), { KILN_PAUSE_AT_STEP: '6' });
  ctrlC = start(tinyTrainArgs(home, spec, ['--name', 'ctrl-c', '--seed', '3']));
});
afterAll(() => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  fs.rmSync(home, { recursive: true, force: true });
});

describe('pause and resume', () => {
  it('Ctrl-C pauses: checkpoint, status paused, exit 130, and how to resume', async () => {
    const id = await waitUntil('the run id', () => (/^run (\S+) on /m.exec(ctrlC.stdout()) ?? [])[1]);
    // Ctrl-C once a step has been taken: the CLI asks its trainer to pause.
    await waitUntil('a logged step', () => loggedSteps(store.runDir(id)).length >= 2);
    ctrlC.child.kill('SIGINT');
    expect(await ctrlC.exited).toBe(130);
    expect(ctrlC.stderr()).toContain('pausing');
    expect(ctrlC.stdout()).toContain(`paused run ${id}. Resume with: kiln runs resume ${id}`);
    const record = await store.get(id);
    expect(record.status).toBe('paused');
    expect(record.endedAt).toBeUndefined();
    const meta = await readCheckpointMeta(path.join(store.checkpointDir(id), 'latest'));
    expect(meta.position.step).toBe(record.progress.step);
    expect(record.progress.step).toBeGreaterThanOrEqual(2);
    expect(record.progress.step).toBeLessThan(12);
    expect(fs.existsSync(store.lockFile(id))).toBe(false);
  });

  it('a run paused mid-epoch and resumed matches the uninterrupted run to 1e-4', async () => {
    expect(await paused.exited).toBe(130);
    const id = runIdOf(paused.stdout());
    expect(paused.stdout()).toContain(`Resume with: kiln runs resume ${id}`);
    const before = await store.get(id);
    expect(before.status).toBe('paused');
    // Step 6 of 4-step epochs is in the second epoch: the record counts epochs from 1, as the live display (the checkpoint's position from 0).
    expect(before.progress).toMatchObject({ epoch: 2, step: 6 });
    expect((await readCheckpointMeta(path.join(store.checkpointDir(id), 'latest'))).position).toMatchObject({
      epoch: 1,
      stepInEpoch: 2,
      step: 6,
    });

    const resumed = await kiln(['runs', 'resume', id, '--json', '--home', home]);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const lines = resumed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'started', runId: id, resumedAtStep: 6, totalSteps: 12 });
    expect(lines.filter((l) => l.type === 'epoch').map((l) => l.epoch)).toEqual([2, 3]);
    expect(lines.at(-1)).toMatchObject({ type: 'done', outcome: 'finished' });

    expect(await straight.exited).toBe(0);
    const straightId = runIdOf(straight.stdout());
    const a = await store.readMetrics(straightId);
    const b = await store.readMetrics(id);
    expect(b.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(maxRelativeDiff(a.epochs, b.epochs)).toBeLessThanOrEqual(1e-4);
    // Each step once, with the same losses.
    expect(b.steps.map((s) => s.step)).toEqual(a.steps.map((s) => s.step));
    b.steps.forEach((s, i) => expect(s.loss).toBeCloseTo(a.steps[i]!.loss!, 4));
    // The weights moved, so equal metrics say something.
    expect(a.epochs[2]!.trainLoss).not.toBeCloseTo(a.epochs[0]!.trainLoss!, 3);

    const record = await store.get(id);
    expect(record).toMatchObject({ status: 'finished', progress: { step: 12 } });
    expect(record.endedAt).toBeDefined();
    // Both runs were evaluated when they finished, on their best checkpoints, with the same outcome.
    const evalA = JSON.parse(fs.readFileSync(path.join(store.evalDir(straightId), 'evaluation.json'), 'utf8'));
    const evalB = JSON.parse(fs.readFileSync(path.join(store.evalDir(id), 'evaluation.json'), 'utf8'));
    expect(evalB.confusion).toEqual(evalA.confusion);
    expect(evalB.accuracy).toBe(record.best!.valAcc);
  });

  it('stop ends a paused run, and pauses then stops a run that is training', async () => {
    const id = runIdOf(ctrlC.stdout());
    expect((await store.get(id)).status).toBe('paused');
    // Resume it, and stop it while its trainer runs: the trainer pauses (checkpoint), then the run is stopped.
    // Each step slowed to 1 s, or a fast machine finishes the run before `kiln runs stop` has started.
    const again = spawnKiln(['runs', 'resume', id, '--home', home], { KILN_TEST_STEP_DELAY_MS: '1000' });
    started.push(again);
    const from = (await store.get(id)).progress.step;
    await waitUntil(
      'a step after the resume',
      () => (loggedSteps(store.runDir(id)).at(-1) ?? 0) > from && fs.existsSync(store.lockFile(id)),
    );
    const stop = await kiln(['runs', 'stop', id, '--home', home]);
    expect(stop.code).toBe(0);
    expect(stop.stderr).toMatch(/is training in pid \d+: pausing it/);
    expect(stop.stdout).toContain(`Stopped run ${id}`);
    expect(await again.exited).toBe(130);
    const record = await store.get(id);
    expect(record.status).toBe('stopped');
    expect(record.endedAt).toBeDefined();
    expect(record.progress.step).toBeGreaterThan(from);

    // A stopped run stays stopped: no resume, a second stop changes nothing.
    const resume = await kiln(['runs', 'resume', id, '--home', home]);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toContain(`run ${id} is stopped; only a paused, interrupted, queued or failed run can be resumed`);
    const stop2 = await kiln(['runs', 'stop', id, '--json', '--home', home]);
    expect(stop2.code).toBe(0);
    expect(JSON.parse(stop2.stdout)).toMatchObject({ already: true, record: { status: 'stopped', endedAt: record.endedAt } });
  });
});
