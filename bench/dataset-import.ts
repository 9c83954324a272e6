// Folder import throughput on large JPEGs, and store load time per 10,000 images.
// Usage: npx tsx bench/dataset-import.ts [--images 400] [--concurrency 1,2,4,8]
// KILN_SHARP_WASM=1 measures sharp's WebAssembly build, the one the Linux desktop app decodes with.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import { loadSharp, wantsSharpWasm } from '../src-main/datasets/sharp-build.ts';

const sharp = await loadSharp();

const { values } = parseArgs({ options: { images: { type: 'string', default: '400' }, concurrency: { type: 'string', default: '' } } });
const N = Number(values.images);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-ds-'));
try {
  const folder = path.join(tmp, 'photos');
  // Noisy gradients, so the JPEGs are photo-sized (~100-200 KB) rather than trivially compressible.
  const W = 1024,
    H = 768;
  const base = Buffer.alloc(W * H * 3);
  for (let i = 0; i < base.length; i++) base[i] = (i * 7 + ((i * 2654435761) >>> 24)) & 255;
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const cls = `class-${i % 4}`;
    fs.mkdirSync(path.join(folder, cls), { recursive: true });
    const file = path.join(folder, cls, `img-${i}.jpg`);
    await sharp(base, { raw: { width: W, height: H, channels: 3 } })
      .modulate({ hue: i * 3 })
      .jpeg({ quality: 85 })
      .toFile(file);
    bytes += fs.statSync(file).size;
  }
  console.log(
    `generated ${N} JPEGs of ${W}×${H}, ${(bytes / N / 1024).toFixed(0)} KB each, on ${os.availableParallelism()} cores (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'default 4'}), sharp ${wantsSharpWasm() ? 'wasm' : 'native'} build`,
  );
  const levels = values.concurrency ? values.concurrency.split(',').map(Number) : [undefined];
  for (const c of levels) {
    const store = new DatasetStore(path.join(tmp, `home-${c ?? 'default'}`));
    const s = await importFolder(store, { folder, size: 32, concurrency: c });
    console.log(`import concurrency=${c ?? 'default'}: ${s.imagesPerSecond.toFixed(1)} images/s (decode), ${s.seconds.toFixed(2)} s total`);
  }

  // Load: a store dataset of 60,000 32×32 images (CIFAR-sized), timed over 3 loads.
  const S = 32,
    train = 50000,
    val = 10000;
  const store = new DatasetStore(path.join(tmp, 'home-load'));
  const mk = (n: number) => ({
    count: n,
    images: new Uint8Array(n * S * S * 3).map((_v, i) => i & 255),
    labels: new Uint8Array(n).map((_v, i) => i % 10),
  });
  await store.create({
    id: 'big',
    name: 'big',
    source: { kind: 'cifar10', url: 'bench', checksum: null },
    imageSize: S,
    classes: 'abcdefghij'.split(''),
    train: mk(train),
    val: mk(val),
  });
  const times: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    await store.load('big');
    times.push(performance.now() - t);
  }
  const best = Math.min(...times);
  console.log(
    `load ${train + val} images of ${S}×${S}: best ${best.toFixed(0)} ms of ${times.map((t) => t.toFixed(0)).join(', ')} → ${(best / ((train + val) / 10000)).toFixed(1)} ms per 10,000 images`,
  );
  const t = performance.now();
  const page = await store.pageOfClass('big', 'train', 3, 0, 100);
  console.log(`browser page of ${page.items.length} PNGs: ${(performance.now() - t).toFixed(0)} ms`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
