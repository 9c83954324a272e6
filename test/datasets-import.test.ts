import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import { decodeImage } from '../src-main/datasets/decode-image.ts';
import type { ImportProgressEvent } from '../src-shared/dataset-progress.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-import-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type RGB = [number, number, number];
const solid = (w: number, h: number, c: RGB, channels: 3 | 4 = 3) =>
  sharp({
    create: {
      width: w,
      height: h,
      channels,
      background: channels === 4 ? { r: c[0], g: c[1], b: c[2], alpha: 1 } : { r: c[0], g: c[1], b: c[2] },
    },
  });

/** A hand-written BMP (sharp cannot write one): 24-bit bottom-up, or 8-bit with a palette. */
function bmp(w: number, h: number, pixel: (x: number, y: number) => RGB, bits: 24 | 8 = 24): Buffer {
  const palette: RGB[] = [];
  const indexOf = (c: RGB) => {
    let i = palette.findIndex((p) => p[0] === c[0] && p[1] === c[1] && p[2] === c[2]);
    if (i < 0) i = palette.push(c) - 1;
    return i;
  };
  const stride = Math.ceil((w * bits) / 32) * 4;
  const pixels = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) {
    const row = (h - 1 - y) * stride;
    for (let x = 0; x < w; x++) {
      const c = pixel(x, y);
      if (bits === 8) pixels[row + x] = indexOf(c);
      else {
        pixels[row + x * 3] = c[2];
        pixels[row + x * 3 + 1] = c[1];
        pixels[row + x * 3 + 2] = c[0];
      }
    }
  }
  const pal = Buffer.alloc(bits === 8 ? 256 * 4 : 0);
  palette.forEach((c, i) => pal.set([c[2], c[1], c[0], 0], i * 4));
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'ascii');
  header.writeUInt32LE(54 + pal.length + pixels.length, 2);
  header.writeUInt32LE(54 + pal.length, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(w, 18);
  header.writeInt32LE(h, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(bits, 28);
  header.writeUInt32LE(pixels.length, 34);
  header.writeUInt32LE(bits === 8 ? 256 : 0, 46);
  return Buffer.concat([header, pal, pixels]);
}

const px = (images: Uint8Array, S: number, i: number, x: number, y: number): RGB => {
  const o = (i * S * S + y * S + x) * 3;
  return [images[o], images[o + 1], images[o + 2]];
};
const near = (a: RGB, b: RGB, tol = 12) => a.every((v, k) => Math.abs(v - b[k]) <= tol);

describe('folder import: formats and broken files', () => {
  let folder: string;
  let store: DatasetStore;
  const RED: RGB = [220, 20, 20];
  const BLUE: RGB = [20, 20, 220];
  const GREEN: RGB = [20, 200, 20];

  beforeAll(async () => {
    folder = path.join(tmp, 'mixed');
    const red = path.join(folder, 'rød kat');
    const blue = path.join(folder, 'blue dog');
    const green = path.join(folder, 'green');
    const empty = path.join(folder, 'empty class');
    for (const d of [red, blue, green, empty, path.join(folder, '.hidden-class'), path.join(blue, 'nested', 'deeper')])
      fs.mkdirSync(d, { recursive: true });
    // Every format, extension case-insensitive, in the red class.
    await solid(40, 30, RED).jpeg().toFile(path.join(red, 'a.JPG'));
    await solid(40, 30, RED).png({ palette: true }).toFile(path.join(red, 'palette.png'));
    await solid(40, 30, RED).toColourspace('rgb16').png().toFile(path.join(red, 'sixteen-bit.PNG'));
    await solid(40, 30, RED, 4).png().toFile(path.join(red, 'alpha.png'));
    await solid(40, 30, RED).webp({ lossless: true }).toFile(path.join(red, 'b.WebP'));
    await solid(40, 30, RED).gif().toFile(path.join(red, 'c.gif'));
    await solid(40, 30, RED).tiff().toFile(path.join(red, 'd.TIFF'));
    fs.writeFileSync(
      path.join(red, 'e.bmp'),
      bmp(20, 10, () => RED),
    );
    fs.writeFileSync(
      path.join(red, 'f 8bit.BMP'),
      bmp(21, 11, () => RED, 8),
    );
    fs.writeFileSync(path.join(red, '日本語の名前.jpg'), await solid(30, 30, RED).jpeg().toBuffer());
    // Grey images become 3 equal channels.
    await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .grayscale()
      .png()
      .toFile(path.join(green, 'grey.png'));
    for (let i = 0; i < 4; i++)
      await solid(32 + i, 32, GREEN)
        .jpeg()
        .toFile(path.join(green, `g${i}.jpeg`));
    for (let i = 0; i < 5; i++)
      await solid(50, 20 + i, BLUE)
        .png()
        .toFile(path.join(blue, `b${i}.png`));
    await solid(10, 10, BLUE)
      .png()
      .toFile(path.join(blue, 'nested', 'deeper', 'deep.png'));
    // Broken ones: zero bytes, truncated JPEG and PNG, text named .jpg, a dangling link; and things to ignore.
    fs.writeFileSync(path.join(blue, 'zero.jpg'), '');
    const jpg = await solid(64, 64, BLUE).jpeg().toBuffer();
    fs.writeFileSync(path.join(blue, 'truncated.jpg'), jpg.subarray(0, Math.floor(jpg.length / 2)));
    const png = await solid(64, 64, BLUE).png().toBuffer();
    fs.writeFileSync(path.join(blue, 'truncated.png'), png.subarray(0, png.length - 30));
    fs.writeFileSync(path.join(blue, 'not-really.jpg'), 'this is text, not a JPEG');
    fs.symlinkSync(path.join(blue, 'gone.png'), path.join(blue, 'dangling.png'));
    fs.writeFileSync(path.join(blue, 'notes.txt'), 'ignored');
    fs.writeFileSync(path.join(red, '.DS_Store'), 'junk');
    fs.writeFileSync(path.join(red, '._a.JPG'), 'AppleDouble junk');
    await solid(8, 8, GREEN)
      .png()
      .toFile(path.join(folder, '.hidden-class', 'x.png'));
    await solid(8, 8, GREEN).png().toFile(path.join(folder, 'loose.png'));
    // A loop: blue dog/nested/up -> the import root.
    fs.symlinkSync(folder, path.join(blue, 'nested', 'up'));
    store = new DatasetStore(path.join(tmp, 'home'));
  });

  it('imports every format as 8-bit RGB, skips broken files with reasons, ignores hidden and non-image files', async () => {
    const events: ImportProgressEvent[] = [];
    const s = await importFolder(store, { folder, size: 16, valSplit: 0, seed: 1 }, (e) => events.push(e));
    expect(s.classes.map((c) => c.name)).toEqual(['blue dog', 'green', 'rød kat']);
    expect(s.classes.map((c) => c.train)).toEqual([6, 5, 10]);
    expect(s.val).toBe(0);
    expect(s.skipped.map((k) => k.path).sort()).toEqual(
      ['blue dog/dangling.png', 'blue dog/not-really.jpg', 'blue dog/truncated.jpg', 'blue dog/truncated.png', 'blue dog/zero.jpg'].sort(),
    );
    expect(s.skipped.find((k) => k.path.endsWith('zero.jpg'))!.reason).toBe('zero-byte file');
    expect(s.skipped.find((k) => k.path.endsWith('dangling.png'))!.reason).toMatch(/broken symbolic link/);
    for (const k of s.skipped) expect(k.reason.length).toBeGreaterThan(3);
    expect(s.warnings.some((w) => w.includes('empty class') && w.includes('no usable images'))).toBe(true);
    expect(s.warnings.some((w) => w.includes('blue dog/nested/up'))).toBe(true);
    expect(s.warnings.some((w) => /1 image\(s\) directly in the folder/.test(w))).toBe(true);
    expect(events.at(-1)).toMatchObject({ phase: 'done', id: s.id });
    expect(events.some((e) => e.phase === 'decode' && e.done === e.total)).toBe(true);

    const d = await store.load(s.id);
    expect(d.imageSize).toBe(16);
    expect(d.train.images.length).toBe(21 * 16 * 16 * 3);
    const wanted: Record<number, RGB> = { 0: BLUE, 1: GREEN, 2: RED };
    for (let i = 0; i < d.train.count; i++) {
      const label = d.train.labels[i];
      const c = px(d.train.images, 16, i, 8, 8);
      if (label === 1 && c[0] === c[1] && c[1] === c[2]) continue; // the grey image in "green"
      expect(near(c, wanted[label]), `image ${i} of class ${label} is ${c}`).toBe(true);
    }
    const grey = Array.from({ length: d.train.count }, (_v, i) => px(d.train.images, 16, i, 3, 3)).filter(
      (c) => c[0] === c[1] && c[1] === c[2],
    );
    expect(grey.length).toBe(1);
    expect(Math.abs(grey[0][0] - 128)).toBeLessThanOrEqual(2);
  });

  it('applies EXIF orientation, and pads instead of cropping when asked', async () => {
    const f = path.join(tmp, 'orient');
    for (const c of ['a', 'b']) fs.mkdirSync(path.join(f, c), { recursive: true });
    // Stored 40×20: left half red, right half blue. Orientation 6 shows it turned 90° clockwise: red on top.
    const halves = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) halves.set(x < 20 ? RED : BLUE, (y * 40 + x) * 3);
    const raw = { raw: { width: 40, height: 20, channels: 3 as const } };
    await sharp(halves, raw)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(path.join(f, 'a', 'rotated.jpg'));
    await sharp(halves, raw)
      .png()
      .toFile(path.join(f, 'b', 'plain.png'));
    const s = await importFolder(store, { folder: f, size: 20, valSplit: 0 });
    const d = await store.load(s.id);
    const rotated = d.train.labels.indexOf(0);
    const plain = d.train.labels.indexOf(1);
    expect(near(px(d.train.images, 20, rotated, 10, 2), RED, 30)).toBe(true);
    expect(near(px(d.train.images, 20, rotated, 10, 17), BLUE, 30)).toBe(true);
    expect(near(px(d.train.images, 20, plain, 2, 10), RED)).toBe(true);
    expect(near(px(d.train.images, 20, plain, 17, 10), BLUE)).toBe(true);

    const padded = await importFolder(store, { folder: f, size: 20, valSplit: 0, fit: 'pad', name: 'orient padded' });
    const p = await store.load(padded.id);
    const plainPadded = p.train.labels.indexOf(1);
    // 40×20 inside 20×20 → 20×10 picture with black bars above and below.
    expect(px(p.train.images, 20, plainPadded, 10, 1)).toEqual([0, 0, 0]);
    expect(near(px(p.train.images, 20, plainPadded, 2, 10), RED)).toBe(true);
    expect(near(px(p.train.images, 20, plainPadded, 17, 10), BLUE)).toBe(true);
  });
});

describe('folder import: layouts and splits', () => {
  async function makeClasses(root: string, counts: Record<string, number>) {
    let k = 0;
    for (const [cls, n] of Object.entries(counts)) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        // Each file gets a distinct colour, so the split can be traced back to files.
        await solid(12, 12, [k % 256, (k * 7) % 256, i])
          .png()
          .toFile(path.join(root, cls, `img-${String(i).padStart(3, '0')}.png`));
        k++;
      }
    }
  }

  it('makes a stratified, seeded validation split for <folder>/<class>/ layouts', async () => {
    const f = path.join(tmp, 'flat');
    await makeClasses(f, { alpha: 20, beta: 10, gamma: 5 });
    const store = new DatasetStore(path.join(tmp, 'home-split'));
    const a = await importFolder(store, { folder: f, size: 8, valSplit: 0.2, seed: 7 });
    // Names must differ (the run form lists datasets by name); ids that slug alike still get a suffix.
    await expect(importFolder(store, { folder: f, size: 8, valSplit: 0.2, seed: 7 })).rejects.toThrow(/named "flat" exists already/);
    const b = await importFolder(store, { folder: f, name: 'Flat!', size: 8, valSplit: 0.2, seed: 7 });
    const c = await importFolder(store, { folder: f, name: 'Flat?', size: 8, valSplit: 0.2, seed: 8 });
    expect(a.layout).toBe('class-folders');
    expect(a.classes).toEqual([
      { name: 'alpha', train: 16, val: 4 },
      { name: 'beta', train: 8, val: 2 },
      { name: 'gamma', train: 4, val: 1 },
    ]);
    expect([a.id, b.id, c.id]).toEqual(['flat', 'flat-2', 'flat-3']);
    const [da, db, dc] = await Promise.all([a, b, c].map((s) => store.load(s.id)));
    expect(Buffer.from(db.val.images).equals(Buffer.from(da.val.images))).toBe(true);
    expect(Buffer.from(dc.val.images).equals(Buffer.from(da.val.images))).toBe(false);
    // Same images overall, just divided differently.
    const all = (d: typeof da) => {
      const set: string[] = [];
      for (const split of [d.train, d.val])
        for (let i = 0; i < split.count; i++) set.push(Buffer.from(split.images.subarray(i * 192, (i + 1) * 192)).toString('hex'));
      return set.sort();
    };
    expect(all(dc)).toEqual(all(da));
    expect(da.mean.every((m) => m >= 0 && m <= 1)).toBe(true);

    // Every stored image keeps the file it came from, relative to the folder: decoding that file again
    // gives the stored pixels, and its class folder is the stored label.
    const sources = (await store.sources(a.id))!;
    expect([sources.train.length, sources.val.length]).toEqual([da.train.count, da.val.count]);
    expect(new Set([...sources.train, ...sources.val]).size).toBe(35);
    for (const split of ['train', 'val'] as const) {
      for (let i = 0; i < da[split].count; i++) {
        const rel = sources[split][i]!;
        expect(rel.split('/')[0]).toBe(da.classes[da[split].labels[i]!]);
        const again = await decodeImage(path.join(f, rel), { size: 8, fit: 'crop' });
        expect(Buffer.from(again).equals(Buffer.from(da[split].images.subarray(i * 192, (i + 1) * 192)))).toBe(true);
      }
    }
    const page = await store.pageOfClass(a.id, 'val', 1, 0, 10);
    expect(page.items.map((it) => it.source)).toEqual(page.items.map((it) => sources.val[it.index]));
    expect((await store.image(a.id, 'train', 0)).source).toBe(sources.train[0]);
  });

  it('keeps the given split for <folder>/train|val/<class>/ layouts', async () => {
    const f = path.join(tmp, 'split');
    await makeClasses(path.join(f, 'train'), { cat: 6, dog: 4 });
    await makeClasses(path.join(f, 'Validation'), { cat: 2, dog: 3 });
    const store = new DatasetStore(path.join(tmp, 'home-layout'));
    const s = await importFolder(store, { folder: f, size: 8 });
    expect(s.layout).toBe('split-folders');
    expect(s.classes).toEqual([
      { name: 'cat', train: 6, val: 2 },
      { name: 'dog', train: 4, val: 3 },
    ]);
    expect((await store.get(s.id)).source).toMatchObject({ kind: 'folder', layout: 'split-folders', valSplit: null });
    expect((await store.sources(s.id))!.val).toEqual([
      'Validation/cat/img-000.png',
      'Validation/cat/img-001.png',
      'Validation/dog/img-000.png',
      'Validation/dog/img-001.png',
      'Validation/dog/img-002.png',
    ]);
  });

  it('refuses fewer than two classes with images, and a missing folder', async () => {
    const f = path.join(tmp, 'one');
    await makeClasses(f, { only: 3 });
    fs.mkdirSync(path.join(f, 'empty'));
    const store = new DatasetStore(path.join(tmp, 'home-one'));
    await expect(importFolder(store, { folder: f })).rejects.toThrow(/found 1 class folder\(s\) with usable images, need at least 2/);
    await expect(importFolder(store, { folder: path.join(tmp, 'nope') })).rejects.toThrow(/does not exist/);
    expect(await store.list()).toEqual([]);
  });

  it('runs as `kiln dataset import --json` and is listed afterwards', () => {
    const home = path.join(tmp, 'home-cli');
    const f = path.join(tmp, 'split');
    const kiln = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'bin/kiln.js'), 'dataset', ...args, '--home', home], { encoding: 'utf8' });
    const r = kiln('import', f, '--name', 'Katzen & Hunde', '--size', '8', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual([
      'id',
      'name',
      'imageSize',
      'sizeChosen',
      'bytes',
      'medianShortSide',
      'classes',
      'train',
      'val',
      'skipped',
      'warnings',
    ]);
    expect(out).toMatchObject({ id: 'katzen-hunde', name: 'Katzen & Hunde', imageSize: 8, train: 10, val: 5, skipped: [] });
    const listed = JSON.parse(kiln('list', '--json').stdout);
    expect(listed.map((d: { id: string }) => d.id)).toEqual(['synthetic', 'katzen-hunde']);
    const bad = kiln('import', f, '--size', 'big');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('kiln: --size: expected an integer, got "big"');
  });
});
