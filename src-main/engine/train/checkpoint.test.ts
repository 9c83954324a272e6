import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import { resolveRun } from '../../training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../../src-shared/run-config.ts';
import { makeSyntheticDataset } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { cleanCheckpoints, loadCheckpoint, readCheckpointMeta, resolveCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { Learner } from './learner.ts';
import type { Position } from './position.ts';
import { Sgd } from './sgd.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ckpt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await loadBackend('wasm');
});

const dataset = makeSyntheticDataset({ train: 96, val: 40, imageSize: 16 });
const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
  opt: { epochs: 2, batchSize: 16, lrMax: 0.3 },
  aug: { cutout: 4 },
  net: { arch: { kind: 'wide-resnet', groups: 2, blocksPerGroup: 1, widthFactor: 1, stemChannels: 4, dropout: 0 } },
  seed: 11,
});
const resolved = resolveRun(config, dataset.train.count, dataset.val.count);

function learner(position?: Position) {
  const spec = resolved.config.net.arch;
  const model = new Model(buildGraph(spec, { imageSize: 16, numClasses: 10 }), config.seed);
  const sgd = new Sgd(model.params, resolved.config.opt);
  return new Learner(model, sgd, dataset, resolved, [], position);
}

const metricsOf = (l: Learner) => {
  const out: EpochMetrics[] = [];
  l.callbacks.push({ onEpochEnd: (_l, m) => void out.push(m) });
  return out;
};
const comparable = (ms: EpochMetrics[]) =>
  ms.map(({ epoch, step, trainLoss, trainAcc, valLoss, valAcc, ttaAcc }) => ({
    epoch,
    step,
    trainLoss,
    trainAcc,
    valLoss,
    valAcc,
    ttaAcc,
  }));

describe('checkpoints', () => {
  it('pausing mid-epoch and resuming from the checkpoint reproduces an uninterrupted run', async () => {
    const straight = learner();
    const expected = metricsOf(straight);
    expect(await straight.fit()).toBe('finished');

    const first = learner();
    const before = metricsOf(first);
    first.callbacks.push({ onBatchEnd: (l, m) => (m.step === 9 ? l.requestStop('pause') : undefined) });
    expect(await first.fit()).toBe('paused');
    const ckpt = path.join(dir, 'latest');
    await saveCheckpoint(ckpt, first.model, first.sgd, first.position);
    first.model.dispose();
    first.sgd.dispose();

    const meta = await readCheckpointMeta(ckpt);
    expect(meta.position).toMatchObject({ epoch: 1, stepInEpoch: 3, step: 9 });
    const resumed = learner(meta.position);
    await loadCheckpoint(ckpt, resumed.model, resumed.sgd);
    const after = metricsOf(resumed);
    expect(await resumed.fit()).toBe('finished');

    const got = comparable([...before, ...after]);
    const want = comparable(expected);
    expect(got.map((m) => m.epoch)).toEqual([1, 2]);
    for (let i = 0; i < want.length; i++) {
      for (const [k, v] of Object.entries(want[i]!)) {
        const g = (got[i] as Record<string, number>)[k]!;
        // ttaAcc is measured after the last epoch only.
        if (v === undefined) {
          expect(g, `epoch ${i + 1} ${k}`).toBeUndefined();
          continue;
        }
        expect(Math.abs(g - (v as number)), `epoch ${i + 1} ${k}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v as number)));
      }
    }
  });

  it('refuses a checkpoint of another architecture, naming the tensor', async () => {
    const a = learner();
    await saveCheckpoint(path.join(dir, 'a'), a.model, a.sgd, a.position);
    const other = new Model(buildGraph({ kind: 'resnet9', widths: [4, 4, 4, 4], outputScale: 1 }, { imageSize: 16, numClasses: 10 }), 0);
    const sgd = new Sgd(other.params, { nesterov: false, weightDecay: 0, wdExcludeBnBias: false });
    await expect(loadCheckpoint(path.join(dir, 'a'), other, sgd)).rejects.toThrow(/has no tensor prep\/conv\/kernel/);
  });

  it('replaces by a new numbered folder and a pointer switch, leaving no leftovers', async () => {
    const a = learner();
    const target = path.join(dir, 'swap');
    await saveCheckpoint(target, a.model, a.sgd, a.position);
    await saveCheckpoint(target, a.model, a.sgd, { ...a.position, step: 5 });
    expect(
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith('swap') || f.startsWith('.swap'))
        .sort(),
    ).toEqual(['swap', 'swap.000002']);
    expect(JSON.parse(fs.readFileSync(target, 'utf8'))).toEqual({ dir: 'swap.000002' });
    expect((await readCheckpointMeta(target)).position.step).toBe(5);
  });

  it('reads a checkpoint of the folder format and converts it on the next save', async () => {
    const a = learner();
    const parent = fs.mkdtempSync(path.join(dir, 'legacy-'));
    const target = path.join(parent, 'latest');
    await saveCheckpoint(target, a.model, a.sgd, { ...a.position, step: 3 });
    // Make the old layout: the slot is the checkpoint folder itself.
    fs.rmSync(target);
    fs.renameSync(path.join(parent, 'latest.000001'), target);
    expect(resolveCheckpoint(target)).toBe(target);
    expect((await readCheckpointMeta(target)).position.step).toBe(3);
    await saveCheckpoint(target, a.model, a.sgd, { ...a.position, step: 4 });
    expect(fs.readdirSync(parent).sort()).toEqual(['latest', 'latest.000001']);
    expect((await readCheckpointMeta(target)).position.step).toBe(4);
  });

  it('recovers the newest complete checkpoint when the pointer is lost or a newer folder is partial, and cleans the rest', async () => {
    const a = learner();
    const parent = fs.mkdtempSync(path.join(dir, 'recover-'));
    const target = path.join(parent, 'latest');
    await saveCheckpoint(target, a.model, a.sgd, { ...a.position, step: 4 });
    // A crash mid-save of step 8: folder made, tensors half written, no meta; a temp pointer left behind.
    fs.mkdirSync(path.join(parent, 'latest.000002'));
    fs.writeFileSync(path.join(parent, 'latest.000002', 'tensors.bin'), Buffer.alloc(10));
    fs.writeFileSync(path.join(parent, '.latest.abc.tmp'), '{"dir":');
    expect(resolveCheckpoint(target)).toBe(path.join(parent, 'latest.000001'));
    // The pointer itself lost (a crash of a save whose slot had none): the newest complete folder wins.
    fs.rmSync(target);
    expect(resolveCheckpoint(target)).toBe(path.join(parent, 'latest.000001'));
    await cleanCheckpoints(target);
    expect(fs.readdirSync(parent).sort()).toEqual(['latest', 'latest.000001']);
    expect((await readCheckpointMeta(target)).position.step).toBe(4);
    expect(resolveCheckpoint(path.join(parent, 'best'))).toBeNull();
  });

  it('a full disk mid-save: a clear error, the previous checkpoint intact, no temp folder or open handle left', async () => {
    const a = learner();
    const parent = fs.mkdtempSync(path.join(dir, 'full-'));
    const target = path.join(parent, 'latest');
    await saveCheckpoint(target, a.model, a.sgd, { ...a.position, step: 4 });
    const fds = fs.readdirSync('/proc/self/fd').length;
    for (const op of ['tensors', 'meta', 'pointer']) {
      process.env.KILN_TEST_ENOSPC_OP = op;
      try {
        await expect(saveCheckpoint(target, a.model, a.sgd, { ...a.position, step: 8 })).rejects.toThrow(
          `disk full while writing the latest checkpoint in ${parent} (the previous latest checkpoint is kept)`,
        );
      } finally {
        delete process.env.KILN_TEST_ENOSPC_OP;
      }
      expect(fs.readdirSync(parent).sort(), op).toEqual(['latest', 'latest.000001']);
      expect((await readCheckpointMeta(target)).position.step).toBe(4);
      expect(fs.readdirSync('/proc/self/fd').length, op).toBe(fds);
    }
  });
});
