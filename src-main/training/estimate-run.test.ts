import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../src-shared/run-config.ts';
import { RunStore } from '../runs/run-store.ts';
import { createRun } from './create-run.ts';
import { estimateRun, estimateSeconds, type TimedRun } from './estimate-run.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-estimate-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
/** 64 synthetic images in batches of 16: 4 steps an epoch. */
const config = (epochs: number) =>
  mergeRunConfig(DEFAULT_RUN_CONFIG, { data: { limitTrain: 64, limitVal: 32 }, opt: { epochs, batchSize: 16 }, backend: 'cpu' });

describe('time estimate before Start', () => {
  it('is a rough guess, said so, while no run has been timed on this machine', async () => {
    const e = await estimateRun(home, config(2));
    expect(e.basis).toBe('rough');
    expect(e.note).toMatch(/^rough guess: no run has been timed on this machine yet/);
    expect(e.seconds).toBeGreaterThan(0);
  });

  it('comes from past runs here with the same architecture and image size, per image trained', async () => {
    const store = new RunStore(home);
    const past = await createRun(home, config(2));
    // 8 steps of 16 images in 16 s: 0.125 s an image, evaluations included.
    await store.update(past.id, { status: 'finished', progress: { ...past.progress, step: 8 }, wallSeconds: 16 });
    const e = await estimateRun(home, config(4));
    expect(e).toEqual({ seconds: 0.125 * 16 * 16, basis: 'past', note: 'from 1 past run of resnet-9-s at 32 px on this machine' });
    // Another machine's runs say nothing about this one.
    await store.update(past.id, { host: { ...past.host, hostname: `not-${past.host.hostname}` } });
    expect((await estimateRun(home, config(4))).basis).toBe('rough');
  });

  it('scales by FLOPs from other architectures here, and keeps to the backend asked for', () => {
    const past: TimedRun[] = [{ arch: 'resnet-9-s', imageSize: 32, backend: 'cpu', secondsPerImage: 0.01, flopsPerImage: 1e8 }];
    const want = { arch: 'wrn-22', imageSize: 32, backend: 'cpu', images: 100, flopsPerImage: 3e8 };
    const scaled = estimateSeconds(past, want);
    expect(scaled.seconds).toBeCloseTo(3);
    expect(scaled.note).toMatch(/^rough: no past run of wrn-22 at 32 px here; scaled by FLOPs from 1 other run/);
    expect(estimateSeconds(past, { ...want, backend: 'webgpu' }).note).toMatch(/^rough guess/);
    expect(estimateSeconds(past, { ...want, backend: 'auto', arch: 'resnet-9-s', flopsPerImage: 1e8 })).toMatchObject({
      seconds: 1,
      basis: 'past',
    });
  });
});
