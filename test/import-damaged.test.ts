import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

const scratch = tempHome();
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Damaged files are skipped with a reason a person can act on. */
describe('imports of damaged files', () => {
  it('truncated JPEGs and PNGs decoded in parallel are each named as truncated, never "Unknown error"', async () => {
    const noisy = Buffer.alloc(256 * 256 * 3);
    for (let i = 0; i < noisy.length; i++) noisy[i] = (i * 7919) % 251;
    const raw = { raw: { width: 256, height: 256, channels: 3 as const } };
    const jpg = await sharp(noisy, raw).jpeg().toBuffer();
    const png = await sharp(noisy, raw).png().toBuffer();
    const folder = path.join(scratch, 'damaged');
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(folder, c), { recursive: true });
      fs.writeFileSync(path.join(folder, c, 'whole.jpg'), jpg);
      // libvips shares one error buffer between threads: parallel failures used to lose their messages.
      for (let i = 0; i < 16; i++)
        fs.writeFileSync(path.join(folder, c, `cut-${i}.jpg`), jpg.subarray(0, Math.floor(jpg.length * (0.2 + i / 25))));
      fs.writeFileSync(path.join(folder, c, 'cut.png'), png.subarray(0, Math.floor(png.length / 2)));
    }
    const summary = await importFolder(new DatasetStore(path.join(scratch, 'home')), { folder, size: 16, concurrency: 8 });
    expect(summary.train + summary.val).toBe(2);
    expect(summary.skipped).toHaveLength(34);
    for (const s of summary.skipped) {
      expect(s.reason, s.path).toBe(
        `truncated ${s.path.endsWith('.png') ? 'PNG' : 'JPEG'}: the file ends before the image does (an interrupted copy or download?)`,
      );
    }
  }, 60_000);
});
