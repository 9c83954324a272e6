import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchSpec } from '../src-shared/arch-spec.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { buildGraph } from '../src-main/engine/arch/graph.ts';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { makeSyntheticDataset } from '../src-main/engine/data/synthetic.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { readCheckpointTensors } from '../src-main/engine/train/checkpoint.ts';
import { applyInitWeights, INIT_SLOT } from '../src-main/engine/train/fine-tune.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';
import { kiln, PROCESS_TEST_TIMEOUT, runIdOf, writeTinySpec } from './fixtures/kiln-process.ts';

/**
 * `kiln train --init-from`: a run on the synthetic shapes seeds runs on a two-class folder (head
 * re-initialised, body frozen for an epoch) and on the same classes (head kept).
 */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT, hookTimeout: PROCESS_TEST_TIMEOUT });

let home: string;
let store: RunStore;
let spec: string;
let source: string;
const synthetic = makeSyntheticDataset();
const TINY: ArchSpec = { kind: 'resnet9', widths: [8, 16, 16, 16], outputScale: 0.125 };

const trainArgs = (extra: string[]) => ['train', '--home', home, '--backend', 'wasm', '--json', ...extra];

/** Every tensor of a run's checkpoint slot (weights, BN statistics; not optimiser state), by name. */
async function tensors(runId: string, slot: string): Promise<Map<string, Float32Array>> {
  const { meta, values } = await readCheckpointTensors(path.join(store.checkpointDir(runId), slot));
  return new Map(meta.tensors.filter((t) => !t.name.endsWith('/velocity')).map((t) => [t.name, values(t.name, t.shape)]));
}

const same = (a: Float32Array | undefined, b: Float32Array | undefined) =>
  !!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]);

beforeAll(async () => {
  home = tempHome();
  store = new RunStore(home);
  spec = writeTinySpec(home);
  const run = await kiln(
    trainArgs([
      '--arch',
      spec,
      '--dataset',
      'synthetic',
      '--limit-train',
      '64',
      '--limit-val',
      '32',
      '--batch-size',
      '32',
      '--epochs',
      '1',
      '--name',
      'shapes',
    ]),
  );
  expect(run.code).toBe(0);
  source = runIdOf(run.stdout);

  // A two-class folder of PNGs (discs and squares the source run never trained on), imported as a dataset.
  const folder = path.join(home, 'two-class');
  const per = 32 * 32 * 3;
  const written = [0, 0];
  for (let i = 0; i < synthetic.val.count && written[0]! + written[1]! < 48; i++) {
    const c = synthetic.val.labels[i]!;
    if (c > 1 || written[c] === 24) continue;
    fs.mkdirSync(path.join(folder, synthetic.classes[c]!), { recursive: true });
    await sharp(Buffer.from(synthetic.val.images.subarray(i * per, (i + 1) * per)), { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(path.join(folder, synthetic.classes[c]!, `${i}.png`));
    written[c]!++;
  }
  const imported = await kiln(['dataset', 'import', folder, '--name', 'two', '--val-split', '0.25', '--home', home, '--json']);
  expect(imported.code).toBe(0);
  await loadBackend('cpu');
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('fine-tuning from a past run', () => {
  it('on other classes: keeps the body, re-draws the head, freezes the body for the first epoch, records the origin', async () => {
    // Paused after the first (frozen) epoch's last step: its checkpoint shows what the frozen epoch changed.
    const first = await kiln(
      trainArgs([
        '--dataset',
        'two',
        '--init-from',
        source,
        '--freeze-epochs',
        '1',
        '--epochs',
        '2',
        '--batch-size',
        '12',
        '--name',
        'two-ft',
      ]),
      {
        KILN_PAUSE_AT_STEP: '3',
      },
    );
    expect(first.stderr).toBe('');
    // A paused run exits as an interrupted command does.
    expect(first.code).toBe(130);
    const id = runIdOf(first.stdout);
    const record = await store.get(id);
    expect(record.status).toBe('paused');
    expect(record.resolved.stepsPerEpoch).toBe(3);
    // Asked without --arch: auto, the source's architecture, which run creation froze.
    expect(record.request.net).toEqual({ arch: null });
    expect(record.resolved.config.net).toEqual({ arch: TINY });
    expect(record.resolved.config.initFrom).toBe(source);
    expect(record.resolved.config.opt.freezeEpochs).toBe(1);
    expect(record.origin).toEqual({
      runId: source,
      runName: 'shapes',
      checkpoint: 'best',
      epoch: 1,
      valAcc: (await store.get(source)).best!.valAcc,
      dataset: { id: 'synthetic', name: synthetic.name },
      classes: synthetic.classes,
      head: 'reinitialised',
      reinitialised: ['head/dense/kernel'],
    });

    const src = await tensors(source, 'best');
    const frozen = await tensors(id, 'latest');
    for (const [name, values] of frozen) {
      if (name.startsWith('head/dense/')) {
        expect(values.length).toBe(16 * 2);
      } else if (name.endsWith('/moving_mean') || name.endsWith('/moving_variance')) {
        continue;
      } else {
        expect(same(values, src.get(name)), `${name} unchanged by the frozen epoch`).toBe(true);
      }
    }
    // Batch norm keeps normalising with batch statistics while frozen, so its running statistics follow the new data.
    expect(same(frozen.get('prep/bn/moving_mean'), src.get('prep/bn/moving_mean'))).toBe(false);

    const resumed = await kiln(['runs', 'resume', id, '--home', home, '--json']);
    expect(resumed.code).toBe(0);
    expect((await store.get(id)).status).toBe('finished');
    const after = await tensors(id, 'latest');
    expect(same(after.get('prep/conv/kernel'), src.get('prep/conv/kernel'))).toBe(false);

    const shown = await kiln(['runs', 'show', id, '--home', home]);
    expect(shown.stdout).toMatch(
      new RegExp(
        `^Started from +run ${source} \\(Synthetic shapes, best checkpoint of epoch 1, val .*\\); head re-initialised \\(other classes\\); body frozen for 1 epoch\\(s\\)$`,
        'm',
      ),
    );
    const compared = await kiln(['runs', 'compare', source, id, '--home', home, '--json']);
    const c = JSON.parse(compared.stdout);
    expect(c.runs.map((r: { origin: { runId: string } | null }) => r.origin?.runId ?? null)).toEqual([null, source]);
    expect(c.configDiff.find((d: { path: string }) => d.path === 'initFrom').values).toEqual({ [source]: null, [id]: source });
    const text = await kiln(['runs', 'compare', source, id, '--home', home]);
    expect(text.stdout).toMatch(/STARTED FROM/);
    expect(text.stdout).toContain(`shapes @1, head new`);
  });

  it('on the same classes: starts from every source tensor, head included', async () => {
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      data: { dataset: 'synthetic', limitTrain: 32, limitVal: 16 },
      net: { arch: TINY },
      initFrom: source,
      opt: { epochs: 1 },
    });
    const record = await createRun(home, config, 'same-classes');
    expect(record.origin).toMatchObject({ runId: source, head: 'kept', reinitialised: [] });
    // What the trainer's first session does: a seeded model, then the starting weights over it.
    const graph = buildGraph(TINY, { imageSize: 32, numClasses: 10 });
    const model = new Model(graph, config.seed);
    await applyInitWeights(path.join(store.checkpointDir(record.id), INIT_SLOT), model, new Set(record.origin!.reinitialised));
    const src = await tensors(source, 'best');
    for (const [name, v] of model.namedVariables()) expect(same(v.dataSync() as Float32Array, src.get(name)), name).toBe(true);
    model.dispose();
  });

  it('refuses what cannot work, naming the problem', async () => {
    const arch = await kiln(trainArgs(['--dataset', 'two', '--init-from', source, '--arch', 'resnet-9-s']));
    expect(arch.code).toBe(2);
    expect(arch.stderr.trim()).toBe(
      `kiln: start from run ${source}: it trained a custom resnet9 spec, this run asks for "resnet-9-s"; fine-tuning keeps the architecture (choose the source run's)`,
    );
    const freeze = await kiln(trainArgs(['--dataset', 'two', '--freeze-epochs', '1']));
    expect(freeze.code).toBe(2);
    expect(freeze.stderr.trim()).toBe('kiln: --freeze-epochs: only with --init-from <run-id> or imagenet:NAME');
    const missing = await kiln(trainArgs(['--dataset', 'two', '--init-from', 'no-such-run']));
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().startsWith(`kiln: no run "no-such-run" in ${path.join(home, 'runs')}`)).toBe(true);
    const tooLong = await kiln(trainArgs(['--dataset', 'two', '--init-from', source, '--freeze-epochs', '3', '--epochs', '2']));
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr.trim()).toBe('kiln: opt.freezeEpochs: 3 frozen epochs in a run of 2');
  });
});
