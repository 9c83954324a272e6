/**
 * A folder of photo-like JPEGs for timing the README's "your own photos" commands (bench/readme-times.sh):
 * 400×300, two classes (warm blobs, cool stripes) on noisy backgrounds, seeded. Never part of `npm test`.
 *
 *   npx tsx bench/photo-folder.ts OUT_DIR [--per-class 125]
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const out = process.argv[2];
if (!out) {
  console.error('usage: npx tsx bench/photo-folder.ts OUT_DIR [--per-class 125]');
  process.exit(2);
}
const i = process.argv.indexOf('--per-class');
const perClass = i > 0 ? Number(process.argv[i + 1]) : 125;
let seed = 1;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const [w, h] = [400, 300];
for (const cls of ['ants', 'bees'] as const) {
  fs.mkdirSync(path.join(out, cls), { recursive: true });
  for (let n = 0; n < perClass; n++) {
    const px = Buffer.alloc(w * h * 3);
    const [cx, cy, r] = [rand() * w, rand() * h, 40 + rand() * 60];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const noise = rand() * 60;
        const inside = cls === 'ants' ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : Math.floor((x + y * 0.5) / 25) % 2 === 0;
        const rgb = inside ? (cls === 'ants' ? [200, 80, 40] : [40, 120, 210]) : [90, 100, 80];
        for (let c = 0; c < 3; c++) px[o + c] = rgb[c]! + noise;
      }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 85 })
      .toFile(path.join(out, cls, `${cls}-${n}.jpg`));
  }
}
console.log(`${2 * perClass} photos in ${out}`);
