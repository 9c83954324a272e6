/**
 * A run is frozen when it is created: changing a preset afterwards (as an upgrade of Kiln might) changes
 * neither its resume, nor its evaluation, nor its export. The preset is changed in this process's memory and
 * the trainer runs in-process, so the change is visible to everything the run could read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRun } from '../src-main/training/create-run.ts';
import { runTrainingSession } from '../src-main/training/train-session.ts';
import { evaluateRun } from '../src-main/training/evaluate-run.ts';
import { exportRun } from '../src-main/training/export-run.ts';
import { PRESETS } from '../src-main/engine/arch/presets.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { scheduleAt } from '../src-main/engine/train/schedule.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import type { ResNet9Spec } from '../src-shared/arch-spec.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-freeze-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('a run is frozen at creation', () => {
  it('resumes, evaluates and exports with what it stored after its preset changed', async () => {
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
      net: { arch: 'resnet-9-s' },
      opt: { epochs: 2, batchSize: 16 },
      backend: 'wasm',
    });
    const created = await createRun(home, config, 'frozen');
    const stored = structuredClone(created.resolved);
    expect(stored.config?.aug.cutout).toBe(8);
    const store = new RunStore(home);

    process.env.KILN_PAUSE_AT_STEP = '3';
    try {
      expect(await runTrainingSession({ home, runId: created.id, emit: () => {} })).toBe('paused');
    } finally {
      delete process.env.KILN_PAUSE_AT_STEP;
    }

    // An "upgrade": the preset's network and every recipe value change under the paused run.
    const preset = PRESETS.find((p) => p.id === 'resnet-9-s')!;
    const saved = structuredClone({ spec: preset.spec, recipe: preset.recipe });
    const spec = preset.spec as ResNet9Spec;
    spec.widths = [8, 8, 8, 8];
    Object.assign(preset.recipe.opt, { epochs: 9, lrMax: 3, warmupFraction: 0.9, momentumMax: 0.5, momentumMin: 0.5, labelSmoothing: 0.3 });
    preset.recipe.aug = { cutout: 0 };
    try {
      expect(await runTrainingSession({ home, runId: created.id, emit: () => {} })).toBe('finished');
      const record = await store.get(created.id);
      expect(record.resolved).toEqual(stored);
      expect(record.progress).toMatchObject({ step: stored.totalSteps, totalSteps: stored.totalSteps });
      // The resumed steps followed the stored schedule, not the changed recipe.
      const metrics = await store.readMetrics(created.id);
      const after = metrics.steps.filter((s) => s.step > 3);
      expect(after.length).toBeGreaterThan(0);
      for (const s of after) {
        const want = scheduleAt(stored.config!.opt, s.step - 1, stored.totalSteps!);
        expect(s.lr).toBeCloseTo(want.lr, 10);
        expect(s.momentum).toBeCloseTo(want.momentum, 10);
      }

      const evaluation = await evaluateRun(home, created.id, { backend: 'wasm' });
      expect(evaluation.count).toBe(32);

      const out = path.join(home, 'export');
      const exported = await exportRun(home, created.id, out);
      expect(exported.kiln.arch).toEqual(saved.spec);
      const modelJson = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
      const kernels = (modelJson.weightsManifest as { weights: { name: string; shape: number[] }[] }[])
        .flatMap((g) => g.weights)
        .filter((w) => w.shape.length === 4);
      // The first convolution has the stored 16 filters, not the changed preset's 8.
      expect(kernels[0]!.shape.at(-1)).toBe(16);
    } finally {
      Object.assign(preset, saved);
    }
  });
});
