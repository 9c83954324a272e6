/**
 * The LR finder's suggestion against what training says, on real photos: 2,048 CIFAR-10 images (where
 * ../shared/data/cifar10 has the tarball), a small ResNet-9, wasm. Minutes on a shared 2-core machine, so it runs
 * only with KILN_LONG_TESTS=1 (and the tarball). A short sweep of max learning rates a
 * factor 4 apart trains each for two epochs; the suggestion must land within a factor 4 of the best of them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { tarEntries } from '../src-main/datasets/tar-reader.ts';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { buildGraph } from '../src-main/engine/arch/graph.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { Learner } from '../src-main/engine/train/learner.ts';
import { Sgd } from '../src-main/engine/train/sgd.ts';
import { loadDataset } from '../src-main/training/load-dataset.ts';
import { lrFind } from '../src-main/training/lr-find.ts';
import { resolveRun } from '../src-main/training/resolve-config.ts';
import type { LoadedDataset } from '../src-main/common/dataset-types.ts';
import type { ArchSpec } from '../src-shared/arch-spec.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfig } from '../src-shared/run-config.ts';
import { CIFAR10_CLASSES, hasRealCifar10, REAL_CIFAR10 } from './fixtures/cifar10-tarball.ts';

const TRAIN = 1536;
const VAL = 512;
const ARCH: ArchSpec = { kind: 'resnet9', widths: [8, 16, 32, 32], outputScale: 0.125 };

/** The first TRAIN + VAL images of data_batch_1.bin, CHW records turned into HWC. */
async function firstImages(): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const n = TRAIN + VAL;
  for await (const e of tarEntries(fs.createReadStream(REAL_CIFAR10.file).pipe(zlib.createGunzip()), (name) =>
    name.endsWith('data_batch_1.bin'),
  )) {
    if (!e.name.endsWith('data_batch_1.bin')) continue;
    const images = new Uint8Array(n * 3072);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const rec = e.data.subarray(i * 3073, (i + 1) * 3073);
      labels[i] = rec[0]!;
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[i * 3072 + p * 3 + c] = rec[1 + c * 1024 + p]!;
    }
    return { images, labels };
  }
  throw new Error('data_batch_1.bin not found in the tarball');
}

describe.runIf(hasRealCifar10() && process.env.KILN_LONG_TESTS === '1')(
  'the LR finder on real photos (CIFAR-10 subset; KILN_LONG_TESTS=1)',
  () => {
    let home: string;
    let dataset: LoadedDataset;
    const config = (opt: Partial<RunConfig['opt']>) =>
      mergeRunConfig(DEFAULT_RUN_CONFIG, {
        data: { dataset: 'cifar-small', limitTrain: 0, limitVal: 0 },
        net: { arch: ARCH },
        opt: { batchSize: 64, ...opt },
        backend: 'wasm',
      });

    beforeAll(async () => {
      await loadBackend('wasm');
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-lr-real-'));
      const { images, labels } = await firstImages();
      await new DatasetStore(home).create({
        id: 'cifar-small',
        name: 'CIFAR-10 (2,048)',
        source: { kind: 'cifar10', url: 'file:' + REAL_CIFAR10.file, checksum: null },
        imageSize: 32,
        classes: CIFAR10_CLASSES,
        train: { count: TRAIN, images: images.subarray(0, TRAIN * 3072), labels: labels.subarray(0, TRAIN) },
        val: { count: VAL, images: images.subarray(TRAIN * 3072), labels: labels.subarray(TRAIN) },
      });
      dataset = await loadDataset(home, 'cifar-small');
    }, 120_000);
    afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

    async function trainAt(lrMax: number): Promise<number> {
      const resolved = resolveRun(config({ lrMax, epochs: 2 }), TRAIN, VAL);
      const model = new Model(buildGraph(ARCH, { imageSize: 32, numClasses: 10 }), 0);
      const sgd = new Sgd(model.params, resolved.config.opt);
      let acc = 0;
      const learner = new Learner(model, sgd, dataset, resolved, [{ onEpochEnd: (_l, m) => void (acc = m.valAcc) }]);
      await learner.fit();
      model.dispose();
      sgd.dispose();
      return acc;
    }

    it('suggests within a factor 4 of the best max LR of a short sweep', async () => {
      const found = await lrFind(dataset, config({}), { startLr: 1e-4, endLr: 10, steps: 48, divergeFactor: 4 });
      const lrs = [0.01, 0.04, 0.16, 0.64];
      const accs: number[] = [];
      for (const lr of lrs) accs.push(await trainAt(lr));
      const best = lrs[accs.indexOf(Math.max(...accs))]!;
      console.log(
        `LR finder: suggested ${found.suggestedLr}, min/10 ${found.minLossLr}; sweep ${lrs.map((lr, i) => `${lr}: ${(accs[i]! * 100).toFixed(1)}%`).join(', ')}`,
      );
      expect(Math.max(...accs)).toBeGreaterThan(0.2);
      expect(found.suggestedLr).not.toBeNull();
      expect(found.suggestedLr!).toBeGreaterThan(best / 4);
      expect(found.suggestedLr!).toBeLessThan(best * 4);
    }, 1_200_000);
  },
);
