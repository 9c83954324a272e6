import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKilnServices } from '../src-main/app/kiln-services.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { createRun as createTrainableRun } from '../src-main/training/create-run.ts';
import { FORK } from '../src-main/common/fork-transport.ts';
import type { Transport } from '../src-main/common/child-channel.ts';
import { LOCK_STALE_MS, startHeartbeat } from '../src-main/runs/lock-file.ts';
import { resumeRunCheck, stopRun } from '../src-main/runs/run-lifecycle.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { kiln, PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';
import { createRun, tempHome } from './fixtures/runs-fixtures.ts';

/** Liveness by heartbeat, not hostname; the manual unlock; one trainer per run under concurrent resumes. */
vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const home = tempHome();
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const store = new RunStore(home);

/** A lock as a trainer in another container (another hostname, pid 1) leaves it, its heartbeat `ageMs` old. */
function foreignLock(file: string, ageMs: number): void {
  fs.writeFileSync(
    file,
    JSON.stringify({ pid: 1, hostname: 'container-before-restart', startedAt: new Date(Date.now() - ageMs).toISOString() }) + '\n',
  );
  const t = new Date(Date.now() - ageMs);
  fs.utimesSync(file, t, t);
}

describe('run locks', () => {
  it('a lock of another host is honoured while its heartbeat is fresh and stale after a minute: resume, stop and remove go through', async () => {
    const run = await createRun(store, {}, { status: 'paused' });
    foreignLock(store.lockFile(run.id), 1000);
    await expect(resumeRunCheck(store, run.id)).rejects.toThrow(/already being trained by pid 1 on host container-before-restart/);
    await expect(store.acquireLock(run.id)).rejects.toThrow(/on host container-before-restart/);

    foreignLock(store.lockFile(run.id), LOCK_STALE_MS + 5000);
    await resumeRunCheck(store, run.id);
    const release = await store.acquireLock(run.id);
    await release();
    foreignLock(store.lockFile(run.id), LOCK_STALE_MS + 5000);
    expect((await stopRun(store, run.id)).record.status).toBe('stopped');
    foreignLock(store.lockFile(run.id), LOCK_STALE_MS + 5000);
    await store.remove(run.id);
    await expect(store.get(run.id)).rejects.toThrow(/no run/i);
  });

  it('a foreign update lock older than a minute does not block updates', async () => {
    const run = await createRun(store);
    foreignLock(path.join(store.runDir(run.id), '.update.lock'), LOCK_STALE_MS + 5000);
    expect((await store.rename(run.id, 'renamed')).name).toBe('renamed');
  });

  it('the heartbeat is refreshed on its own thread, even while the main thread is busy', async () => {
    const file = path.join(home, 'heartbeat.lock');
    foreignLock(file, LOCK_STALE_MS * 2);
    const old = fs.statSync(file).mtimeMs;
    const stop = startHeartbeat(file, 20);
    try {
      await vi.waitFor(() => expect(fs.statSync(file).mtimeMs).toBeGreaterThan(old), { timeout: 20_000 });
      foreignLock(file, LOCK_STALE_MS * 2);
      // A long synchronous training step: the main thread never yields, the heartbeat still beats.
      const deadline = Date.now() + 20_000;
      while (fs.statSync(file).mtimeMs <= old + 1000 && Date.now() < deadline);
      expect(fs.statSync(file).mtimeMs).toBeGreaterThan(old + LOCK_STALE_MS);
    } finally {
      await stop();
    }
  });

  it('kiln runs unlock removes a live-looking foreign lock and marks the run interrupted', async () => {
    const run = await createRun(store, {}, { status: 'running' });
    foreignLock(store.lockFile(run.id), 1000);
    const out = await kiln(['runs', 'unlock', run.id, '--home', home]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`Unlocked run ${run.id} (lock of pid 1 on container-before-restart removed); it is interrupted`);
    expect(fs.existsSync(store.lockFile(run.id))).toBe(false);
    expect((await store.get(run.id)).status).toBe('interrupted');
  });

  it('ten concurrent runs.resume calls start exactly one trainer, which then pauses on request', async () => {
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
      net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
      opt: { epochs: 50, batchSize: 32 },
      backend: 'wasm',
    });
    const run = await createTrainableRun(home, config);
    let spawned = 0;
    const counting: Transport = (channel, args) => {
      spawned++;
      return FORK(channel, args);
    };
    const services = await createKilnServices({ home, emit: () => undefined, spawner: counting });
    try {
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => services.handlers['runs.resume'](run.id)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected'))
        expect(String((r as PromiseRejectedResult).reason)).toMatch(/is already training/);
      expect(spawned).toBe(1);
      await services.handlers['runs.pause'](run.id);
      expect((await store.get(run.id)).status).toBe('paused');
    } finally {
      await services.shutdown();
    }
  });
});
