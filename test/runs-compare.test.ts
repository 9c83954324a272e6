import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { compareRuns, decimateSteps } from '../src-main/runs/compare-runs.ts';
import { createRun, fakeEpoch, fakeSteps, tempHome } from './fixtures/runs-fixtures.ts';
import { resolveRun } from '../src-main/training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';

let home: string;
let store: RunStore;
beforeEach(() => {
  home = tempHome();
  store = new RunStore(home);
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

async function load(...ids: string[]) {
  return Promise.all(ids.map(async (id) => ({ record: await store.get(id), metrics: await store.readMetrics(id) })));
}

describe('compareRuns', () => {
  it('aligns epochs and steps, and lists only the settings that differ', async () => {
    const spe = 97; // steps per epoch
    const a = await createRun(store, { opt: { lrMax: 0.4, batchSize: 512 }, seed: 1 });
    const b = await createRun(store, { opt: { lrMax: 0.2, batchSize: 512 }, aug: { cutout: 4 }, seed: 1 });
    await store.update(a.id, {
      status: 'finished',
      backend: { name: 'wasm', device: 'cpu' },
      best: { valAcc: 0.91, ttaAcc: 0.915, epoch: 9 },
      final: { valAcc: 0.91, ttaAcc: 0.915, valLoss: 0.31 },
      wallSeconds: 600,
    });
    await store.update(b.id, {
      status: 'paused',
      backend: { name: 'webgpu', device: 'NVIDIA H200' },
      wallSeconds: 200,
    });
    // A: 10 epochs (970 steps, decimated); B: paused after 3 epochs plus a bit.
    await store.appendMetrics(a.id, [
      ...fakeSteps(1, 10 * spe, spe, 1),
      ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((e) => fakeEpoch(e, spe, 0.5 + e * 0.04)),
    ]);
    await store.appendMetrics(b.id, [...fakeSteps(1, 3 * spe + 40, spe, 2), ...[0, 1, 2].map((e) => fakeEpoch(e, spe, 0.45 + e * 0.05))]);

    const c = compareRuns(await load(a.id, b.id));

    expect(c.runs.map((r) => [r.id, r.status, r.epochs, r.steps, r.wallSeconds])).toEqual([
      [a.id, 'finished', 10, 970, 600],
      [b.id, 'paused', 3, 331, 200],
    ]);
    expect(c.runs[0]!.best?.valAcc).toBe(0.91);
    expect(c.runs[1]!.final).toBeNull();

    expect(c.byEpoch.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(c.byEpoch[2]!.values[a.id]?.valAcc).toBeCloseTo(0.58);
    expect(c.byEpoch[2]!.values[b.id]?.valAcc).toBeCloseTo(0.55);
    expect(c.byEpoch[3]!.values[b.id]).toBeNull();

    // ≤ 500 points per run; A (970 logged) is bucketed in pairs, B (331) kept whole.
    const pointsOf = (id: string) => c.byStep.filter((s) => s.values[id] !== null);
    expect(pointsOf(a.id).length).toBe(485);
    expect(pointsOf(b.id).length).toBe(331);
    const steps = c.byStep.map((s) => s.step);
    expect(steps).toEqual([...steps].sort((x, y) => x - y));
    // Where both have a point at the same step they share one row.
    const row = c.byStep.find((s) => s.step === 100)!;
    expect(row.values[a.id]).not.toBeNull();
    expect(row.values[b.id]).not.toBeNull();
    // A bucket is the mean loss of its steps, at the last step.
    const rawA = (await store.readMetrics(a.id)).steps;
    expect(row.values[a.id]!.loss).toBeCloseTo((rawA[98]!.loss! + rawA[99]!.loss!) / 2, 12);
    expect(row.values[a.id]!.n).toBe(2);
    expect(row.values[b.id]!.loss).toBe((await store.readMetrics(b.id)).steps[99]!.loss);

    const diff = Object.fromEntries(c.configDiff.map((d) => [d.path, d.values]));
    // The frozen configs are compared, each setting once: what each run trained with, whatever was left to the recipe.
    expect(Object.keys(diff).sort()).toEqual(['aug.cutout', 'opt.lrMax', 'trainedOn.device', 'trainedOn.name']);
    expect(diff['opt.lrMax']).toEqual({ [a.id]: 0.4, [b.id]: 0.2 });
    // a left cutout to the recipe (resnet-9-s: 8); b chose 4.
    expect(diff['aug.cutout']).toEqual({ [a.id]: 8, [b.id]: 4 });
    expect(a.request.aug.cutout).toBeNull();
    expect(diff['trainedOn.device']).toEqual({ [a.id]: 'cpu', [b.id]: 'NVIDIA H200' });
  });

  it('diffs architecture specs and datasets deeply, and shows a missing setting as null', async () => {
    const a = await createRun(store);
    const wider = { kind: 'resnet9' as const, widths: [64, 128, 256, 1024] as [number, number, number, number], outputScale: 0.125 };
    const small = { id: 'cifar10-small', name: 'CIFAR-10 (5k)', manifestHash: 'sha256:00', classes: ['a'], train: 5000, val: 1000 };
    const request = mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: wider } });
    const b = await createRun(store, { net: { arch: wider } }, { dataset: small, resolved: resolveRun(request, small.train, small.val) });
    const c = compareRuns(await load(a.id, b.id));
    const diff = Object.fromEntries(c.configDiff.map((d) => [d.path, d.values]));
    const aWidths = (a.resolved.config.net.arch as { widths: number[] }).widths;
    // The architecture by name (a preset's id, or a custom spec's name) and the built specs under arch.*.
    expect(diff['net.arch']).toEqual({ [a.id]: 'resnet-9-s', [b.id]: 'custom' });
    expect(diff['arch.widths[3]']).toEqual({ [a.id]: aWidths[3], [b.id]: 1024 });
    expect(diff['dataset.id']).toEqual({ [a.id]: 'cifar10', [b.id]: 'cifar10-small' });
    expect(diff['dataset.manifestHash']).toBeDefined();
    // What was derived from the data, under resolved.*.
    expect(diff['resolved.trainCount']).toEqual({ [a.id]: 50_000, [b.id]: 5000 });
    expect(c.byEpoch).toEqual([]);
    expect(c.byStep).toEqual([]);
  });

  it('finds nothing to diff between runs with the same settings', async () => {
    const a = await createRun(store);
    const b = await createRun(store);
    expect(compareRuns(await load(a.id, b.id)).configDiff).toEqual([]);
  });

  it('shows each setting once: auto and resolved values, the preset and its built spec, in one row each', async () => {
    const a = await createRun(store, { opt: { epochs: null } });
    // resnet-9-s's spec with a wider last layer.
    const base = a.resolved.config.net.arch as { kind: 'resnet9'; widths: [number, number, number, number]; outputScale: number };
    const wider = { ...base, widths: [base.widths[0], base.widths[1], base.widths[2], 1024] as [number, number, number, number] };
    const b = await createRun(store, { opt: { epochs: 10 }, net: { arch: wider } });
    const c = compareRuns(await load(a.id, b.id));
    const paths = c.configDiff.map((d) => d.path);
    expect(paths).toEqual([...new Set(paths)]);
    expect(paths.filter((p) => /epochs/i.test(p))).toEqual(['opt.epochs']);
    expect(c.configDiff.find((d) => d.path === 'opt.epochs')!.values).toEqual({ [a.id]: a.resolved.config.opt.epochs, [b.id]: 10 });
    expect(paths.filter((p) => p.includes('widths'))).toEqual(['arch.widths[3]']);
    expect(paths.some((p) => p.startsWith('resolved.config') || p.startsWith('resolved.autoRules'))).toBe(false);
  });

  it('refuses the same run twice', async () => {
    const a = await createRun(store);
    await expect(load(a.id, a.id).then(compareRuns)).rejects.toThrow(/listed twice/);
  });
});

describe('decimateSteps', () => {
  it('keeps short series whole and bounds long ones, with null losses left out of the mean', () => {
    const steps = fakeSteps(1, 1234, 100);
    expect(decimateSteps(steps.slice(0, 500), 500).length).toBe(500);
    const d = decimateSteps(steps, 500);
    expect(d.length).toBeLessThanOrEqual(500);
    expect(d.at(-1)!.step).toBe(1234);
    expect(d.reduce((n, p) => n + p.point.n, 0)).toBe(1234);
    const withNaN = [{ ...steps[0]!, loss: null }, steps[1]!];
    expect(decimateSteps(withNaN, 1)[0]!.point.loss).toBe(steps[1]!.loss);
    expect(decimateSteps([{ ...steps[0]!, loss: null }], 1)[0]!.point.loss).toBeNull();
  });
});
