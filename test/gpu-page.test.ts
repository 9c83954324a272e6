/**
 * The GPU trainer page, as the app builds it, in Debian's Chromium with WebGPU on SwiftShader (a software adapter:
 * correctness only), driven through the page protocol with this test playing the process that owns the run's
 * files: the trainer's own session code (train-session.ts) with the page's link. Every preset's training step
 * against the cpu backend, a tiny run that learns with the page's live tensors flat, a paused and resumed run equal
 * to its twin, and the self-check's fallback to wasm on a WebGPU whose getMappedRange throws.
 * KILN_SKIP_CHROMIUM_WEBGPU=1 skips the file where no Chromium with WebGPU is installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildGpuPage, CHROMIUM, startGpuPageHost, type GpuPageHost } from './fixtures/gpu-page.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfig } from '../src-shared/run-config.ts';
import { TINY_WEBGPU_RUN } from '../src-main/engine/testing/tiny-webgpu-run.ts';
import { makeSyntheticDataset } from '../src-main/engine/data/synthetic.ts';
import { resolveRun } from '../src-main/training/resolve-config.ts';
import { buildGraph } from '../src-main/engine/arch/graph.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { Sgd } from '../src-main/engine/train/sgd.ts';
import { Learner } from '../src-main/engine/train/learner.ts';
import { START_POSITION } from '../src-main/engine/train/position.ts';
import { readTrainingState } from '../src-main/engine/train/training-state.ts';
import { RemoteLearner } from '../src-main/training/gpu/remote-learner.ts';
import { runTrainingSession } from '../src-main/training/train-session.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { readCheckpointTensors } from '../src-main/engine/train/checkpoint.ts';
import type { OwnerMessage, PageMessage } from '../src-main/training/gpu/gpu-protocol.ts';
import type { TrainerMessage } from '../src-shared/trainer-protocol.ts';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { evaluateRun, readEvaluation } from '../src-main/training/evaluate-run.ts';
import type { ImageSplit } from '../src-main/common/dataset-types.ts';

const skip = Boolean(process.env.KILN_SKIP_CHROMIUM_WEBGPU) || !fs.existsSync(CHROMIUM);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-gpu-page-'));
let host: GpuPageHost;

beforeAll(async () => {
  if (skip) return;
  await buildGpuPage(path.join(tmp, 'page'));
  host = await startGpuPageHost(path.join(tmp, 'page'));
}, 300_000);

afterAll(async () => {
  await host?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Keeps each WebGPU device the page asks for on window.kilnDevices, so a test can lose it (device.destroy()). */
const LOSE_DEVICE = `(() => {
  const request = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await request.apply(this, args);
    (window.kilnDevices ??= []).push(device);
    return device;
  };
})();`;

/** Largest |a−b| / (1 + |b|) over all tensors of two states. */
function maxStateError(a: Record<string, Float32Array>, b: Record<string, Float32Array>): { worst: number; where: string } {
  let worst = 0;
  let where = '';
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const [name, va] of Object.entries(a)) {
    const vb = b[name]!;
    for (let i = 0; i < va.length; i++) {
      const e = Math.abs(va[i]! - vb[i]!) / (1 + Math.abs(vb[i]!));
      if (!(e <= worst)) [worst, where] = [Number.isNaN(e) ? Infinity : e, name];
    }
  }
  return { worst, where };
}

describe.skipIf(skip)('the GPU trainer page in Chromium (WebGPU on SwiftShader)', () => {
  it.each([
    {
      preset: 'resnet-9',
      arch: { kind: 'resnet9' as const, widths: [8, 8, 8, 8] as [number, number, number, number], outputScale: 0.125 },
    },
    {
      preset: 'wrn-22',
      arch: { kind: 'wide-resnet' as const, name: 'wrn', groups: 3, blocksPerGroup: 1, widthFactor: 1, stemChannels: 8, dropout: 0 },
    },
  ])(
    '$preset: one training step on the page (every kernel forward and backward, BN statistics, Nesterov SGD) matches the cpu backend to 1e-3',
    async ({ arch }) => {
      await tf.setBackend('cpu');
      const dataset = makeSyntheticDataset({ train: 16, val: 16, imageSize: 16, seed: 4 });
      const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
        net: { arch },
        opt: { epochs: 1, batchSize: 16, lrMax: 0.4, labelSmoothing: 0.2, weightDecay: 5e-4 },
        aug: { tta: false, cutout: 0 },
        seed: 7,
      });
      const resolved = resolveRun(config, dataset.train.count, dataset.val.count);
      expect(resolved.totalSteps).toBe(1);
      const graph = buildGraph(resolved.config.net.arch, { imageSize: 16, numClasses: dataset.classes.length });
      const make = () => {
        const model = new Model(graph, resolved.config.seed);
        return { model, sgd: new Sgd(model.params, resolved.config.opt) };
      };
      const onPage = make();
      const { link, errors, page } = await host.open();
      const remote = new RemoteLearner(link, onPage.model, onPage.sgd, dataset, resolved, [], START_POSITION);
      expect(await remote.fit()).toBe('finished');
      link.close();
      await page.close();
      const local = make();
      expect(await new Learner(local.model, local.sgd, dataset, resolved).fit()).toBe('finished');
      const { worst, where } = maxStateError(
        await readTrainingState(onPage.model, onPage.sgd),
        await readTrainingState(local.model, local.sgd),
      );
      expect(worst, `worst at ${where}`).toBeLessThanOrEqual(1e-3);
      expect(errors).toEqual([]);
      for (const m of [onPage, local]) {
        m.model.dispose();
        m.sgd.dispose();
      }
    },
    180_000,
  );

  describe('runs through the trainer session (the test owns the files)', () => {
    const home = path.join(tmp, 'home');
    // Two of the synthetic shapes (horizontal vs vertical bar) at 16 px: separable in a few dozen steps, which is
    // all a software adapter can afford here. Chance is 0.5.
    const config: RunConfig = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      data: { dataset: 'bars', limitTrain: 256, limitVal: 64 },
      ...TINY_WEBGPU_RUN,
    });
    const store = new RunStore(home);

    beforeAll(async () => {
      const shapes = makeSyntheticDataset({ train: 1280, val: 400, imageSize: 16, seed: 5 });
      const per = 16 * 16 * 3;
      const pick = (s: ImageSplit, limit: number): ImageSplit => {
        const idx = [...s.labels.keys()].filter((i) => s.labels[i] === 6 || s.labels[i] === 7).slice(0, limit);
        const images = new Uint8Array(idx.length * per);
        idx.forEach((j, k) => images.set(s.images.subarray(j * per, (j + 1) * per), k * per));
        return { count: idx.length, images, labels: Uint8Array.from(idx, (j) => (s.labels[j] === 6 ? 0 : 1)) };
      };
      await new DatasetStore(home).create({
        id: 'bars',
        name: 'Bars',
        source: { kind: 'cifar10', url: 'http://127.0.0.1/none', checksum: null },
        imageSize: 16,
        classes: [shapes.classes[6]!, shapes.classes[7]!],
        train: pick(shapes.train, 256),
        val: pick(shapes.val, 64),
      });
    });

    /** One trainer session of run `runId` on a fresh page; `pauseAtStep` aborts with 'pause' once progress passes it. */
    async function session(
      runId: string,
      opts: { pauseAtStep?: number; breakAtStep?: { step: number; how: 'crash' | 'lose-device' }; initScript?: string } = {},
    ) {
      const messages: TrainerMessage[] = [];
      const down: OwnerMessage[] = [];
      const up: PageMessage[] = [];
      const stop = new AbortController();
      const { link, errors, page } = await host.open({
        initScript: opts.initScript,
        tap: (m, dir) => (dir === 'up' ? up.push(m as PageMessage) : down.push(m as OwnerMessage)),
      });
      let crashed = false;
      const outcome = await runTrainingSession({
        home,
        runId,
        gpu: link,
        signal: stop.signal,
        emit: (m) => {
          messages.push(m);
          const step = m.type === 'progress' ? m.progress.step : -1;
          if (opts.pauseAtStep !== undefined && step >= opts.pauseAtStep) stop.abort('pause');
          const broken = opts.breakAtStep;
          if (broken && step >= broken.step && !crashed) {
            crashed = true;
            if (broken.how === 'lose-device')
              // As a GPU process crash or a driver reset loses it (LOSE_DEVICE below kept the page's devices).
              void page.evaluate(() =>
                (window as unknown as { kilnDevices: { destroy(): void }[] }).kilnDevices.forEach((d) => d.destroy()),
              );
            // A renderer crash, as Chromium's own (CDP Page.crash): the page's socket dies with it.
            else
              void page
                .context()
                .newCDPSession(page)
                .then((cdp) => cdp.send('Page.crash'))
                .catch(() => undefined);
          }
        },
      }).catch((err: Error) => `threw: ${err.message}`);
      // Each session gets a page (a renderer and a WebGPU device) of its own, as each run does in the app.
      await page.close();
      return { outcome, messages, down, up, errors, record: await store.get(runId) };
    }

    let straight: { runId: string };

    it("trains a tiny run for 2 epochs that learns, recording Chromium's adapter, with the page's live tensors flat", async () => {
      const run = await createRun(home, config);
      const s = await session(run.id);
      expect(s.outcome).toBe('finished');
      expect(s.errors).toEqual([]);
      expect(s.record.status).toBe('finished');
      expect(s.record.backend).toMatchObject({
        name: 'webgpu',
        adapter: { vendor: 'google', architecture: 'swiftshader', software: true },
      });
      expect(s.record.backend!.runsIn).toMatch(/Chromium's WebGPU .*self-check passed/);
      const epochs = (await store.readMetrics(run.id)).epochs;
      expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
      // Learning: the loss falls from epoch to epoch and ends below chance's (ln 2 for two classes). Measured on
      // the cpu backend, this run's epochs match the page's (test 1 pins each step to 1e-3).
      expect(epochs[1]!.trainLoss!).toBeLessThan(epochs[0]!.trainLoss!);
      expect(epochs[1]!.trainLoss!).toBeLessThan(Math.log(2));
      const tensors = s.up.flatMap((m) => (m.type === 'epoch' ? [m.tensors] : []));
      expect(tensors).toHaveLength(2);
      expect(tensors[1]).toBe(tensors[0]);
      // The self-check ran once and its verdict is kept for this adapter and browser.
      expect(s.down.filter((m) => m.type === 'check')).toHaveLength(1);
      const verdicts = JSON.parse(fs.readFileSync(path.join(home, 'gpu-self-check.json'), 'utf8')).verdicts;
      expect(Object.values(verdicts)).toEqual([expect.objectContaining({ status: 'ok' })]);
      // The run's evaluation (the best checkpoint over the whole validation split, with TTA) ran on the page's WebGPU,
      // and scores as the cpu backend does on the same checkpoint.
      expect(s.down.filter((m) => m.type === 'predict')).toEqual([expect.objectContaining({ count: 64 })]);
      const onPage = await readEvaluation(home, run.id);
      expect(onPage).toMatchObject({ backend: 'webgpu', count: 64, checkpoint: 'best' });
      expect(s.record.evaluation).toMatchObject({ valAcc: onPage!.accuracy, ttaAcc: onPage!.ttaAccuracy });
      const onCpu = await evaluateRun(home, run.id, { backend: 'cpu' });
      expect(onCpu.backend).toBe('cpu');
      expect(Math.abs(onPage!.accuracy - onCpu.accuracy)).toBeLessThanOrEqual(1 / 64);
      expect(Math.abs(onPage!.ttaAccuracy - onCpu.ttaAccuracy)).toBeLessThanOrEqual(1 / 64);
      straight = { runId: run.id };
    }, 300_000);

    it('a run paused mid-epoch and resumed on a new page ends equal to its uninterrupted twin', async () => {
      expect(straight, 'needs the run of the previous test').toBeDefined();
      const run = await createRun(home, config);
      const first = await session(run.id, { pauseAtStep: 3 });
      expect(first.outcome).toBe('paused');
      const pausedAt = first.record.progress.step;
      expect(pausedAt).toBeGreaterThanOrEqual(3);
      expect(pausedAt).toBeLessThan(32);
      // The cached verdict: no second self-check.
      expect(first.down.filter((m) => m.type === 'check')).toHaveLength(0);
      const second = await session(run.id);
      expect(second.outcome).toBe('finished');
      expect(second.down.find((m) => m.type === 'init')).toMatchObject({ position: { step: pausedAt } });
      const a = await readCheckpointTensors(path.join(store.checkpointDir(run.id), 'latest'));
      const b = await readCheckpointTensors(path.join(store.checkpointDir(straight.runId), 'latest'));
      expect(a.meta.position).toEqual(b.meta.position);
      for (const t of b.meta.tensors) expect(a.values(t.name, t.shape), t.name).toEqual(b.values(t.name, t.shape));
      const got = (await store.readMetrics(run.id)).epochs;
      const want = (await store.readMetrics(straight.runId)).epochs;
      for (const k of ['trainLoss', 'valLoss', 'valAcc'] as const) expect(got.map((e) => e[k])).toEqual(want.map((e) => e[k]));
    }, 300_000);

    it('a page whose renderer crashes mid-epoch fails its run with that reason, and the session ends', async () => {
      const run = await createRun(home, mergeRunConfig(config, { opt: { epochs: 1 } }));
      const s = await session(run.id, { breakAtStep: { step: 2, how: 'crash' } });
      expect(s.outcome).toMatch(/^threw: the GPU trainer page went away before the fit ended/);
      expect(s.record.status).toBe('failed');
      expect(s.record.error?.message).toMatch(/^the GPU trainer page went away before the fit ended/);
      expect(s.messages.at(-1)).toMatchObject({ type: 'error', runId: run.id });
      // The session let go of the run: another trainer can take it.
      const release = await store.acquireLock(run.id);
      await release();
    }, 300_000);

    it('a GPU device lost mid-epoch (a GPU process crash, a driver reset) fails its run saying so, resumable from its last checkpoint', async () => {
      const run = await createRun(home, mergeRunConfig(config, { opt: { epochs: 1 } }));
      const s = await session(run.id, { breakAtStep: { step: 2, how: 'lose-device' }, initScript: LOSE_DEVICE });
      expect(s.outcome).toMatch(/^threw: /);
      expect(s.record.status).toBe('failed');
      expect(s.record.error).toMatchObject({
        name: 'GpuDeviceLostError',
        message: expect.stringMatching(/^the GPU device was lost \(destroyed/),
      });
      expect(s.record.error!.message).toContain('resume the run to continue from its last checkpoint');
    }, 300_000);

    it('auto on a WebGPU whose getMappedRange throws: the self-check fails, the run trains on wasm and says why, and the verdict is not retried', async () => {
      // A driver that maps nothing, on what looks like a hardware adapter (so auto would take it).
      const broken = `(() => {
        GPUBuffer.prototype.getMappedRange = function () { throw new TypeError('External buffers are not allowed'); };
        Object.defineProperty(GPUAdapter.prototype, 'isFallbackAdapter', { get: () => false });
        Object.defineProperty(GPUAdapter.prototype, 'info', { get: () => ({ vendor: 'kiln-test', architecture: 'broken-driver', device: '', description: 'Kiln test adapter' }) });
      })();`;
      const tiny = mergeRunConfig(config, { data: { limitTrain: 32, limitVal: 16 }, opt: { epochs: 1 }, backend: 'auto' });
      for (const attempt of [1, 2]) {
        const run = await createRun(home, tiny);
        const s = await session(run.id, { initScript: broken });
        expect(s.outcome).toBe('finished');
        expect(s.record.status).toBe('finished');
        expect(s.record.backend!.name).not.toBe('webgpu');
        expect(s.record.backend!.fallback, s.record.backend!.fallback).toMatch(
          /^not on the GPU: the WebGPU self-check failed: .*External buffers are not allowed/,
        );
        expect(s.down.filter((m) => m.type === 'check')).toHaveLength(attempt === 1 ? 1 : 0);
        expect(s.down.filter((m) => m.type === 'init')).toHaveLength(0);
      }
      await loadBackend('cpu');
    }, 300_000);
  });
});
