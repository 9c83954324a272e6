import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { downloadCifar10 } from '../src-main/datasets/download-cifar10.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { DEFAULT_RUN_CONFIG } from '../src-shared/run-config.ts';
import { cliInProcess } from './fixtures/cli-in-process.ts';
import { REPO } from './fixtures/runs-fixtures.ts';
import { configFromFlags } from '../src-main/cli/commands/train.ts';
import { resolveRun } from '../src-main/training/resolve-config.ts';
import { runHint } from '../src-main/training/run-hint.ts';
import { makeCifar10Tarball } from './fixtures/cifar10-tarball.ts';

/** Frictions a newcomer met on the README's paths: negative numbers, typos in presets and dataset ids, names vs ids. */

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-newcomer-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

beforeAll(async () => {
  // A folder import of "hymenoptera_data" gets the id "hymenoptera-data"; the name is what every list shows.
  const t = makeCifar10Tarball(path.join(home, 'src'), 10);
  await downloadCifar10(new DatasetStore(home), { file: t.file, sha256: t.sha256, id: 'hymenoptera-data', name: 'hymenoptera_data' });
});

describe('numbers', () => {
  it('a negative number gets the same clear error as any other out-of-range number', async () => {
    for (const [flag, bad, zero] of [
      ['--epochs', '-3', '0'],
      ['--batch-size', '-8', '0'],
    ]) {
      const neg = await cliInProcess(['train', flag, bad, '--home', home]);
      const low = await cliInProcess(['train', flag, zero, '--home', home]);
      expect({ code: neg.code, stderr: neg.stderr }).toEqual({ code: 2, stderr: `kiln: ${flag}: expected an integer ≥ 1, got ${bad}` });
      expect(low.stderr).toBe(`kiln: ${flag}: expected an integer ≥ 1, got ${zero}`);
    }
    // A negative value given with "=" always worked; a flag without its value still says so.
    expect((await cliInProcess(['train', '--epochs=-3', '--home', home])).stderr).toBe('kiln: --epochs: expected an integer ≥ 1, got -3');
    expect((await cliInProcess(['train', '--epochs', '--home', home])).code).toBe(2);
  });
});

describe('did you mean', () => {
  it('suggests the preset for a mistyped --arch', async () => {
    const r = await cliInProcess(['train', '--arch', 'resnet9s', '--home', home]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^kiln: --arch: unknown preset "resnet9s"; expected one of wrn-22, resnet-9, resnet-9-s, .*or a spec \.json file; did you mean resnet-9-s\?$/,
    );
    expect((await cliInProcess(['arch', 'show', 'wrn22'])).stderr).toMatch(/did you mean wrn-22\?$/);
  });

  it('suggests the dataset for a mistyped id or name', async () => {
    const r = await cliInProcess(['train', '--dataset', 'hymenoptera-dat', '--home', home]);
    expect(r).toMatchObject({
      code: 2,
      stderr: `kiln: no dataset "hymenoptera-dat" in ${path.join(home, 'datasets')}; did you mean hymenoptera-data?; \`kiln dataset list\` shows what there is`,
    });
    expect((await cliInProcess(['dataset', 'show', 'synthetc', '--home', home])).stderr).toMatch(/did you mean synthetic\?/);
  });
});

describe('dataset names wherever ids are taken', () => {
  it('dataset show / rename take the name shown in lists', async () => {
    const show = await cliInProcess(['dataset', 'show', 'hymenoptera_data', '--home', home]);
    expect(show.code).toBe(0);
    expect(show.stdout.split('\n')[0]).toBe('hymenoptera_data (hymenoptera-data)');
    expect((await cliInProcess(['dataset', 'show', 'HYMENOPTERA_DATA', '--home', home])).code).toBe(0);
  });

  it('a run asked for by dataset name records the id, so a later rename cannot break resume', async () => {
    const config = {
      ...DEFAULT_RUN_CONFIG,
      data: { dataset: 'hymenoptera_data', limitTrain: 0, limitVal: 0 },
      net: { arch: 'resnet-9-s' },
    };
    const record = await createRun(home, config as typeof DEFAULT_RUN_CONFIG);
    expect(record.dataset.id).toBe('hymenoptera-data');
    expect(record.request.data.dataset).toBe('hymenoptera-data');
    expect(record.resolved.config.data.dataset).toBe('hymenoptera-data');
  });
});

describe('lr-find', () => {
  it('says its batch size and an ETA, and scales its suggestion to the batch asked for', async () => {
    const spec = path.join(home, 'tiny.json');
    fs.writeFileSync(spec, JSON.stringify({ kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 }));
    const r = await cliInProcess([
      'lr-find',
      '--dataset',
      'synthetic',
      '--arch',
      spec,
      '--limit-train',
      '256',
      '--batch-size',
      '16',
      '--steps',
      '12',
      '--end-lr',
      '1',
      '--for-batch',
      '64',
      '--backend',
      'wasm',
      '--home',
      home,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lr-find on wasm \(.*\): 12 steps at batch 16 \(kiln train's batch with these options\), lr 0\.00001 to 1$/m);
    expect(r.stderr).toMatch(/^lr-find: about \d+s left \(at most 12 steps\)$/m);
    const found = /^suggested lr-max at batch 16: (\S+) .*min-loss\/10: (\S+)$/m.exec(r.stdout)!;
    const scaled = /^for batch 64 \(scaled linearly\): lr-max (\S+); min-loss\/10: (\S+)$/m.exec(r.stdout)!;
    expect(found && scaled).toBeTruthy();
    for (const i of [1, 2]) if (found[i] !== 'none') expect(Number(scaled[i])).toBeCloseTo(Number(found[i]) * 4, 2);
  });
});

describe('the README', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const commands = [...readme.matchAll(/^npx kiln (.+?)(?:\s{2,}#.*)?$/gm)].map((m) => m[1]!.trim());

  it("fine-tune example gets a run long enough that Kiln's own hint does not call it half-trained", () => {
    const line = commands.find((c) => c.startsWith('train ') && c.includes('--init-from'));
    expect(line).toBeDefined();
    const args = line!
      .split(/\s+/)
      .slice(1)
      .map((a) => a.replace(/^<.*>$/, 'some-run'));
    const { config } = configFromFlags(args);
    // A folder of 245 photos with a 10% validation split, as in the README's photo path.
    // The architecture is the source run's (say resnet-9-s); what matters here is the run's length.
    const resolved = resolveRun({ ...config, net: { ...config.net, arch: 'resnet-9-s' } }, 220, 25);
    const hint = runHint({
      valAcc: 0.6,
      trainAcc: 0.7,
      totalSteps: resolved.totalSteps,
      stepsPerEpoch: resolved.stepsPerEpoch,
      epochsGiven: (config.opt.epochs ?? 0) > 0,
      classes: ['ants', 'bees'],
      trainPerClass: [110, 110],
      imageSize: 64,
    });
    expect(hint ?? '').not.toMatch(/half-trained/);
  });

  it('names the other ways to CIFAR-10 and puts each format of an export in its own folder', () => {
    expect(commands.some((c) => c.startsWith('dataset download cifar10') && c.includes('--file '))).toBe(true);
    expect(commands.some((c) => c.startsWith('dataset download cifar10') && c.includes('--url '))).toBe(true);
    expect(readme).toContain('KILN_CIFAR10_URL');
    const outs = commands.filter((c) => c.startsWith('export ')).map((c) => /--out (\S+)/.exec(c)?.[1]);
    expect(outs.length).toBeGreaterThanOrEqual(2);
    expect(new Set(outs).size).toBe(outs.length);
  });

  it('gives the photo path in code blocks: import, train, evaluate, export, predict', () => {
    for (const start of ['dataset import ', 'train --dataset my-photos', 'runs eval ', 'export ', 'predict '])
      expect(
        commands.some((c) => c.startsWith(start)),
        start,
      ).toBe(true);
  });
});
