import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKilnServices } from '../src-main/app/kiln-services.ts';
import { createJobRunner } from '../src-main/app/job-runner.ts';
import type { ChildEnd, Transport } from '../src-main/common/child-channel.ts';
import type { JobChannel } from '../src-main/app/job-protocol.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { pidAlive } from '../src-main/runs/lock-file.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import type { KilnEvents } from '../src-shared/contract.ts';
import { PROCESS_TEST_TIMEOUT, waitUntil } from './fixtures/kiln-process.ts';
import { REPO, tempHome } from './fixtures/runs-fixtures.ts';

/** Nothing hangs: stop/pause time out into SIGKILL, jobs are pooled and timed out, children die with their parent. */
vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const home = tempHome();
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

/** A real child process that answers a 'predict' request after `top` milliseconds. */
const slowJob = (live: Set<number>, inflight: { now: number; most: number }): ChildEnd<JobChannel> => {
  inflight.most = Math.max(inflight.most, ++inflight.now);
  const code = `process.on('message', (m) => setTimeout(() => process.send({ type: 'result', result: { pid: process.pid } }, () => process.exit(0)), m.job.top));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child.pid!);
  child.on('exit', () => live.delete(child.pid!));
  return {
    send: (m) => void child.send(m),
    onMessage: (l) => void child.on('message', (m) => (inflight.now--, l(m as never))),
    onExit: (l) => void child.on('exit', (code, signal) => l({ code, signal })),
    kill: () => void child.kill('SIGKILL'),
  };
};
const predict = (ms: number) => ({ kind: 'predict' as const, home, runId: 'r', imageBase64: '', top: ms });

describe('process limits', () => {
  it('heavy jobs: at most maxRunning at once, a bounded queue, and a timeout that kills', async () => {
    const live = new Set<number>();
    const inflight = { now: 0, most: 0 };
    const jobs = createJobRunner((() => slowJob(live, inflight)) as Transport, {
      maxRunning: 2,
      maxQueued: 1,
      timeoutMs: { lrFind: 1, evaluate: 1, export: 1, predict: 3000 },
    });
    const first = [jobs(predict(300)), jobs(predict(300)), jobs(predict(300))];
    await expect(jobs(predict(300))).rejects.toMatchObject({
      name: 'JobQueueFullError',
      message: expect.stringContaining('Kiln is busy: 2 jobs are running and 1 are waiting'),
    });
    expect((await Promise.all(first)).length).toBe(3);
    expect(inflight.most).toBe(2);
    const before = Date.now();
    await expect(jobs(predict(60_000))).rejects.toMatchObject({
      name: 'JobTimeoutError',
      message: 'the prediction took longer than 3 s and was stopped',
    });
    expect(Date.now() - before).toBeLessThan(30_000);
    await waitUntil('the timed-out job to die', () => live.size === 0, 10_000);
  });

  it('a job whose parent dies while its main thread is stuck is killed within seconds', async () => {
    const entry = path.join(REPO, 'src-main/app/job-entry.ts');
    const parentCode = `
      const { fork } = require('node:child_process');
      const child = fork(${JSON.stringify(entry)}, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      console.log('child ' + child.pid);
      child.send({ type: 'job', job: { kind: 'predict', home: '/nonexistent', runId: 'x', imageBase64: '', top: 1 } });
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentCode], {
      cwd: REPO,
      env: { ...process.env, KILN_TEST_JOB_BLOCK_MS: '300000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    parent.stdout!.on('data', (d) => (out += d));
    parent.stderr!.on('data', (d) => (err += d));
    try {
      const childPid = Number(await waitUntil('the job to start', () => /child (\d+)/.exec(out)?.[1], 120_000));
      await waitUntil('the job to block', () => err.includes(`job ${childPid} blocking`), 120_000);
      parent.kill('SIGKILL');
      // 5 s grace, then the watchdog thread kills it; before, it lived the full 300 s.
      await waitUntil('the orphaned job to die', () => !pidAlive(childPid), 60_000);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('a trainer that does not honour pause or stop in time is killed; the stopped run is stopped', async () => {
    const events: { event: keyof KilnEvents; payload: unknown }[] = [];
    const saved = process.env.KILN_TEST_STEP_DELAY_MS;
    // Each step takes 10 minutes: a pause or stop request waits for the step to end.
    process.env.KILN_TEST_STEP_DELAY_MS = '600000';
    const services = await createKilnServices({
      home,
      emit: (event, payload) => void events.push({ event, payload }),
      stopTimeoutMs: 3000,
      maxTrainers: 2,
    });
    try {
      const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
        data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
        net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
        opt: { epochs: 2, batchSize: 32 },
        backend: 'wasm',
      });
      const [a, b] = await Promise.all([services.handlers['runs.start'](config, 'A'), services.handlers['runs.start'](config, 'B')]);
      const store = new RunStore(home);
      // A third trainer is one too many: refused at once, and no run record is made for it.
      await expect(services.handlers['runs.start'](config, 'C')).rejects.toMatchObject({
        name: 'RunStateError',
        message: '2 runs are already training in this Kiln (at most 2 at once); pause or stop one first',
      });
      expect((await store.list()).runs.map((r) => r.name).sort()).toEqual(['A', 'B']);
      const started = (id: string) =>
        events.some(
          (e) =>
            e.event === 'runStatus' &&
            (e.payload as KilnEvents['runStatus']).runId === id &&
            (e.payload as KilnEvents['runStatus']).status === 'running',
        );
      await waitUntil('both trainers training', () => started(a.id) && started(b.id)).catch((err: Error) => {
        throw new Error(`${err.message}; events: ${JSON.stringify(events).slice(0, 1500)}`);
      });
      const [pidA, pidB] = [(await store.lockHolder(a.id))!.pid, (await store.lockHolder(b.id))!.pid];
      const [paused, stopped] = await Promise.allSettled([services.handlers['runs.pause'](a.id), services.handlers['runs.stop'](b.id)]);
      expect(paused).toMatchObject({
        status: 'rejected',
        reason: {
          name: 'RunStateError',
          message: `run ${a.id} did not pause within 3 s, so its trainer was killed; resume it to continue from its last checkpoint`,
        },
      });
      expect(stopped.status).toBe('fulfilled');
      expect(pidAlive(pidA)).toBe(false);
      expect(pidAlive(pidB)).toBe(false);
      expect((await store.get(b.id)).status).toBe('stopped');
      await waitUntil('A marked failed', async () => (await store.get(a.id)).status === 'failed' || undefined);
    } finally {
      if (saved === undefined) delete process.env.KILN_TEST_STEP_DELAY_MS;
      else process.env.KILN_TEST_STEP_DELAY_MS = saved;
      await services.shutdown();
    }
  });
});
