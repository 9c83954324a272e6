import fs from 'node:fs';
import type { Sharp } from 'sharp';
import { decodeBmp, isBmp } from './bmp-decode.ts';
import { loadSharp } from './sharp-build.ts';

export type FitMode = 'crop' | 'pad';

export interface DecodeOptions {
  size: number;
  fit: FitMode;
}

/** An image that cannot be used; the import skips it and reports the reason. */
export class SkipImageError extends Error {}

/**
 * One file → size×size 8-bit RGB (HWC). EXIF orientation is applied first; grey,
 * palette, 16-bit and CMYK inputs come out as sRGB bytes; alpha is dropped as
 * PIL's convert('RGB') does, so imports match what torchvision would see.
 */
export async function decodeImage(file: string, opts: DecodeOptions): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (err) {
    throw new SkipImageError(`unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (buf.length === 0) throw new SkipImageError('zero-byte file');
  const sharp = await loadSharp();
  let img: Sharp;
  if (isBmp(buf)) {
    let raw;
    try {
      raw = await decodeBmp(buf);
    } catch (err) {
      throw new SkipImageError((err as Error).message);
    }
    img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } });
  } else {
    // 'truncated' rejects cut-off files but keeps images with harmless warnings (odd markers, extra bytes).
    img = sharp(buf, { failOn: 'truncated', pages: 1 }).autoOrient();
  }
  const S = opts.size;
  try {
    const { data, info } = await img
      .resize(S, S, opts.fit === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== S || info.height !== S || info.channels !== 3 || data.length !== S * S * 3) {
      throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${S}×${S}×3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (err) {
    throw new SkipImageError(cleanSharpMessage((err as Error).message));
  }
}

function cleanSharpMessage(message: string): string {
  const line = message.split('\n').map((s) => s.trim()).filter(Boolean).slice(0, 2).join(': ');
  return line.replace(/^Input (buffer|file) /, '').slice(0, 200) || 'cannot decode';
}
