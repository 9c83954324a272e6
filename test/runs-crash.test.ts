import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { resolveCheckpoint } from '../src-main/engine/train/checkpoint.ts';
import { REPO, tempHome } from './fixtures/runs-fixtures.ts';
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
 * Three real trainers at once: K and L share a config, M has another seed. K's trainer is killed
 * with SIGKILL mid-epoch and resumed from its last epoch checkpoint; a second trainer on L is refused.
 */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT, hookTimeout: PROCESS_TEST_TIMEOUT });

let home: string;
let store: RunStore;
const started: KilnProcess[] = [];
let K: KilnProcess;
let L: KilnProcess;
let M: KilnProcess;

beforeAll(() => {
  home = tempHome();
  store = new RunStore(home);
  const spec = writeTinySpec(home);
  const start = (args: string[]) => {
    const p = spawnKiln(args);
    started.push(p);
    return p;
  };
  K = start(tinyTrainArgs(home, spec, ['--json', '--name', 'K']));
  L = start(tinyTrainArgs(home, spec, ['--json', '--name', 'L']));
  M = start(tinyTrainArgs(home, spec, ['--json', '--name', 'M', '--seed', '5']));
});
afterAll(() => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  fs.rmSync(home, { recursive: true, force: true });
});

async function refuseSecondTrainerOnL(): Promise<void> {
  const id = await waitUntil('L to start', () => /"runId":"([^"]+)"/.exec(L.stdout())?.[1]);
  const pid = lockPid(id)!;
  expect(pid).toBeGreaterThan(0);
  expect(pid).not.toBe(L.child.pid); // the lock belongs to the forked trainer, not the CLI
  const entry = path.join(REPO, 'src-main/training/trainer-entry.ts');
  const [cli, trainer] = await Promise.all([
    kiln(['runs', 'resume', id, '--home', home]),
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry, home, id], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    }),
  ]);
  expect(L.child.exitCode).toBeNull(); // L was training all along
  expect(cli.code).toBe(1);
  expect(cli.stderr).toContain(`run ${id} is already being trained by pid ${pid}`);
  expect(trainer.code).toBe(1);
  expect(trainer.stderr).toContain(`run ${id} is already being trained by pid ${pid}`);
  expect(lockPid(id)).toBe(pid); // L's trainer still owns it
}

async function killAndResumeK(): Promise<void> {
  const id = await waitUntil('K to start', () => /"runId":"([^"]+)"/.exec(K.stdout())?.[1]);
  const dir = store.runDir(id);
  const latest = path.join(store.checkpointDir(id), 'latest');
  const checkpointStep = () => {
    const dir = resolveCheckpoint(latest);
    return dir ? JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')).position.step : -1;
  };
  // Kill once an epoch checkpoint exists and the next epoch has logged steps after it.
  await waitUntil('K past an epoch checkpoint', () => {
    const ck = checkpointStep();
    return ck >= 4 && (loggedSteps(dir).at(-1) ?? 0) > ck;
  });
  process.kill(lockPid(id)!, 'SIGKILL');
  const ckAtKill = checkpointStep();
  const lastLogged = loggedSteps(dir).at(-1)!;
  expect(ckAtKill % 4).toBe(0);
  expect(lastLogged).toBeGreaterThan(ckAtKill);
  expect(await K.exited).toBe(1);
  // A SIGKILL nobody in Kiln sent is most often the kernel's out-of-memory killer: `kiln train` says so and records
  // it in the run, with the model's estimate, as the app does (trainer-death.ts).
  expect(K.stderr()).toContain(`kiln: the trainer of run ${id} was killed, most likely because it ran out of memory (killed by SIGKILL)`);
  expect(K.stderr()).toContain('Resuming would run out again');
  const after = await store.get(id);
  expect(after.status).toBe('failed');
  expect(after.error).toMatchObject({ name: 'OutOfMemoryError', message: expect.stringContaining('(killed by SIGKILL)') });

  // Listing sweeps the dead trainer's lock and keeps the recorded failure.
  const list = await kiln(['runs', 'list', '--json', '--home', home]);
  expect(list.code).toBe(0);
  expect(JSON.parse(list.stdout).runs.find((r: { id: string }) => r.id === id).status).toBe('failed');

  const resumed = await kiln(['runs', 'resume', id, '--json', '--home', home]);
  expect(resumed.code).toBe(0);
  const lines = resumed.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines[0]).toMatchObject({ type: 'started', resumedAtStep: ckAtKill });
  expect(lines.at(-1)).toMatchObject({ type: 'done', outcome: 'finished' });
  expect((await store.get(id)).status).toBe('finished');
  // The steps logged after the checkpoint were replayed, each kept once.
  const metrics = await store.readMetrics(id);
  expect(metrics.steps.map((s) => s.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  expect(metrics.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
  expect(fs.readFileSync(store.metricsFile(id), 'utf8').trim().split('\n')).toHaveLength(15);
}

const lockPid = (id: string): number | undefined => {
  try {
    return JSON.parse(fs.readFileSync(store.lockFile(id), 'utf8')).pid;
  } catch {
    return undefined;
  }
};

describe('crashes and concurrent runs', () => {
  it('kill -9 of a trainer mid-epoch: recorded failed (most likely out of memory), resumed from its last epoch checkpoint; meanwhile a second trainer on L is refused', async () => {
    await Promise.all([killAndResumeK(), refuseSecondTrainerOnL()]);
  });

  it('concurrent runs finish with their own metrics: the killed-and-resumed run equals its twin', async () => {
    expect(await L.exited).toBe(0);
    expect(await M.exited).toBe(0);
    const [k, l, m] = [K, L, M].map((p) => runIdOf(p.stdout())) as [string, string, string];
    const [mk, ml, mm] = await Promise.all([k, l, m].map((id) => store.readMetrics(id)));
    expect(maxRelativeDiff(mk!.epochs, ml!.epochs)).toBeLessThanOrEqual(1e-4);
    // M trained on another seed: its numbers are its own.
    expect(maxRelativeDiff(ml!.epochs, mm!.epochs)).toBeGreaterThan(1e-3);
    for (const [id, metrics] of [
      [l, ml],
      [m, mm],
    ] as const) {
      expect(metrics!.steps.map((s) => s.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(metrics!.tornTail).toBe(false);
      const record = await store.get(id);
      expect(record.status).toBe('finished');
      expect(record.final!.valAcc).toBe(metrics!.epochs.at(-1)!.valAcc);
    }
  });
});
