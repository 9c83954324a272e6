import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliInProcess } from './fixtures/cli-in-process.ts';
import { resolveCheckpoint } from '../src-main/engine/train/checkpoint.ts';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-train-'));
const tinySpec = path.join(home, 'tiny.json');
fs.writeFileSync(tinySpec, JSON.stringify({ kind: 'resnet9', widths: [8, 16, 32, 32], outputScale: 0.125 }));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('kiln train', () => {
  it('trains a tiny net on synthetic shapes: the loss falls and accuracy rises above chance', () => {
    const r = spawnSync(
      process.execPath,
      [
        'bin/kiln.js',
        'train',
        '--dataset',
        'synthetic',
        '--arch',
        tinySpec,
        '--epochs',
        '2',
        '--limit-train',
        '1024',
        '--limit-val',
        '256',
        '--batch-size',
        '32',
        '--lr-max',
        '0.4',
        '--label-smoothing',
        '0',
        '--backend',
        'wasm',
        '--home',
        home,
        '--json',
      ],
      { encoding: 'utf8', timeout: 590_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const epochs = lines.filter((l) => l.type === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const key of ['trainLoss', 'trainAcc', 'valLoss', 'valAcc', 'lr', 'imagesPerSec', 'seconds', 'valImages']) {
      expect(typeof epochs[0][key], key).toBe('number');
    }
    // TTA after the last epoch only (the whole split), where it is the number the run is judged by.
    expect([epochs[0].ttaAcc, typeof epochs[1].ttaAcc]).toEqual([undefined, 'number']);
    expect(epochs[1].valImages).toBe(256);
    expect(epochs[1].trainLoss).toBeLessThan(epochs[0].trainLoss);
    expect(epochs[1].valLoss).toBeLessThan(epochs[0].valLoss);
    expect(epochs[1].valAcc).toBeGreaterThan(0.15);
    const done = lines.at(-1);
    expect(done).toMatchObject({ type: 'done', outcome: 'finished', backend: 'wasm' });
    expect(done.valAcc).toBe(epochs[1].valAcc);
    // The run record holds what the comparison views read.
    const record = JSON.parse(fs.readFileSync(path.join(home, 'runs', done.runId, 'run.json'), 'utf8'));
    expect(record).toMatchObject({
      status: 'finished',
      backend: { name: 'wasm' },
      resolved: { config: { opt: { batchSize: 32, lrMax: 0.4, epochs: 2 } } },
    });
    const latest = resolveCheckpoint(path.join(home, 'runs', done.runId, 'checkpoints', 'latest'));
    expect(latest && fs.existsSync(path.join(latest, 'tensors.bin'))).toBe(true);
  }, 600_000);

  it('rejects bad flags with one line naming the flag, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--epochs', 'two'], /--epochs: expected an integer, got "two"/],
      [['train', '--batch-size', '0'], /--batch-size: expected an integer ≥ 1/],
      [['train', '--arch', 'resnet-1000'], /--arch: unknown preset "resnet-1000"/],
      [['train', '--backend', 'tpu'], /--backend: expected one of auto, tensorflow, webgpu, wasm, cpu/],
      [['train', '--frobnicate'], /frobnicate/],
      [['train', '--dataset', 'nope', '--home', home], /no dataset "nope"/],
    ];
    for (const [argv, message] of cases) {
      const r = await cliInProcess(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n')).toHaveLength(1);
    }
  });

  it('explains a bad architecture file by field', async () => {
    const bad = path.join(home, 'bad.json');
    fs.writeFileSync(
      bad,
      JSON.stringify({ kind: 'wide-resnet', groups: 3, blocksPerGroup: 'three', widthFactor: 6, stemChannels: 16, dropout: 0 }),
    );
    const r = await cliInProcess(['arch', 'show', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: blocksPerGroup/);
  });

  it('prints the architecture table as JSON', async () => {
    const r = await cliInProcess(['arch', 'show', 'resnet-9', '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.trainableParams).toBe(6_573_120);
    expect(summary.layers[0]).toMatchObject({ name: 'input', outputShape: [32, 32, 3], params: 0 });
    expect(summary.flopsPerImage).toBeGreaterThan(0);
  });
});
