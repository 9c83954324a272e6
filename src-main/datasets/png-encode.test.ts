import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodePngRgb } from './png-encode.ts';

describe('encodePngRgb', () => {
  it('writes a PNG that a real decoder (libvips) reads back pixel for pixel', async () => {
    for (const [w, h] of [
      [32, 32],
      [1, 1],
      [7, 3],
      [64, 17],
    ] as const) {
      const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 37 + (i >> 5)) & 0xff);
      const png = encodePngRgb(rgb, w, h);
      const { data, info } = await sharp(png, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
      expect([info.format, info.width, info.height, info.channels]).toEqual(['raw', w, h, 3]);
      expect(new Uint8Array(data)).toEqual(rgb);
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.depth, meta.space]).toEqual(['png', 'uchar', 'srgb']);
    }
  });

  it('refuses a buffer that does not match the size', () => {
    expect(() => encodePngRgb(new Uint8Array(10), 2, 2)).toThrow(/needs 12 bytes, got 10/);
    expect(() => encodePngRgb(new Uint8Array(0), 0, 0)).toThrow(/positive integers/);
  });
});
