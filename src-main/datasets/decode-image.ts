import fs from 'node:fs';
import type { Sharp } from 'sharp';
import { decodeBmp, isBmp } from './bmp-decode.ts';
import { loadSharp } from './sharp-build.ts';
import { DecodeBudget, imageHeaderSize, LARGE_DECODE_BYTES, MAX_IMAGE_FILE_BYTES } from './decode-budget.ts';

export type FitMode = 'crop' | 'pad';

export interface DecodeOptions {
  size: number;
  fit: FitMode;
  /**
   * timm's / torchvision's eval transform for pretrained backbones (fit 'crop' only): resize to cover scaleTo×scaleTo
   * (the short side to scaleTo), then take the centre size×size. Absent: cover size×size directly.
   */
  scaleTo?: number;
  /** Resampling kernel (sharp's default, Lanczos-3, when absent); 'cubic' is Catmull-Rom, PIL's bicubic. */
  kernel?: 'cubic' | 'linear';
  /** Shared by an import's decodes: each waits for room for its file and pixels (decode-budget.ts). */
  budget?: DecodeBudget;
  /** Called before a decode of LARGE_DECODE_BYTES or more starts (a crash after it can then name the file). */
  onLarge?: (estimateBytes: number) => void;
}

/** An image that cannot be used; the import skips it and reports the reason. */
export class SkipImageError extends Error {}

/**
 * One file → size×size 8-bit RGB (HWC). EXIF orientation is applied first; grey,
 * palette, 16-bit and CMYK inputs come out as sRGB bytes; alpha is dropped as
 * PIL's convert('RGB') does, so imports match what torchvision would see.
 */
export async function decodeImage(file: string, opts: DecodeOptions): Promise<Uint8Array> {
  // Size and pixel count first, from the file system and the header: nothing is read that could not be held.
  let fileBytes: number;
  try {
    fileBytes = (await fs.promises.stat(file)).size;
  } catch (err) {
    throw new SkipImageError(`unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (fileBytes > MAX_IMAGE_FILE_BYTES)
    throw new SkipImageError(`file of ${mib(fileBytes)} is over the ${mib(MAX_IMAGE_FILE_BYTES)} Kiln reads for one image`);
  const dims = await imageHeaderSize(file);
  // RGBA pixels as decoded, plus a copy on the way to RGB (a BMP: our decoder's RGB and sharp's copy of it).
  const estimate = fileBytes + (dims ? dims.width * dims.height * 8 : 0);
  const budget = opts.budget ?? new DecodeBudget();
  if (dims && estimate > budget.capacity) {
    throw new SkipImageError(
      `${dims.width}×${dims.height} pixels: decoding needs about ${mib(estimate)}, more than the ${mib(budget.capacity)} an import may use at once`,
    );
  }
  const release = await budget.acquire(estimate);
  try {
    if (estimate >= LARGE_DECODE_BYTES) opts.onLarge?.(estimate);
    return await decodeWithin(file, opts);
  } finally {
    release();
  }
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;

async function decodeWithin(file: string, opts: DecodeOptions): Promise<Uint8Array> {
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
    const kernel = opts.kernel ? { kernel: opts.kernel } : {};
    const scaled = opts.scaleTo && opts.fit === 'crop' && opts.scaleTo > S ? opts.scaleTo : null;
    const resized = scaled
      ? await centreCrop(img.resize(scaled, scaled, { fit: 'outside', ...kernel }), S, sharp)
      : img.resize(
          S,
          S,
          opts.fit === 'crop'
            ? { fit: 'cover', position: 'centre', ...kernel }
            : { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 }, ...kernel },
        );
    const { data, info } = await resized.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.width !== S || info.height !== S || info.channels !== 3 || data.length !== S * S * 3) {
      throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${S}×${S}×3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (err) {
    throw new SkipImageError(describeDecodeFailure(buf, (err as Error).message));
  }
}

const JPEG_SOI = [0xff, 0xd8, 0xff];
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (buf: Buffer, sig: number[]) => sig.every((b, i) => buf[i] === b);

/** Whether a JPEG's data ends with its end-of-image marker (FF D9), padding after it allowed. */
function jpegHasEnd(buf: Buffer): boolean {
  let end = buf.length;
  while (end > 2 && (buf[end - 1] === 0x00 || buf[end - 1] === 0x0a || buf[end - 1] === 0x0d || buf[end - 1] === 0x20)) end--;
  return buf.lastIndexOf(Buffer.from([0xff, 0xd9]), end - 2) === end - 2;
}

/**
 * Why a file could not be decoded, in words. libvips keeps one error buffer for all its threads, so with
 * decodes in parallel one failure may find another's message, or none ("Unknown error"): the file's own
 * bytes say whether it is a JPEG or PNG cut short.
 */
export function describeDecodeFailure(buf: Buffer, message: string): string {
  const said = cleanSharpMessage(message);
  const vague = said === 'Unknown error' || said === 'cannot decode';
  if (startsWith(buf, JPEG_SOI) && (!jpegHasEnd(buf) || /premature end/i.test(said)))
    return 'truncated JPEG: the file ends before the image does (an interrupted copy or download?)';
  if (startsWith(buf, PNG_SIGNATURE) && !buf.subarray(-12).includes(Buffer.from('IEND')))
    return 'truncated PNG: the file ends before the image does (an interrupted copy or download?)';
  if (vague) return 'cannot decode: the decoder gave no reason (a damaged or unsupported file)';
  return said;
}

/**
 * torchvision's Resize(short side) + CenterCrop: the short side is already scaled; the crop's offsets are
 * round((side − S) / 2) with Python's round-half-to-even, as CenterCrop computes them.
 */
async function centreCrop(img: Sharp, S: number, sharp: Awaited<ReturnType<typeof loadSharp>>): Promise<Sharp> {
  const { data, info } = await img.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const offset = (side: number) => roundHalfEven((side - S) / 2);
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).extract({
    left: offset(info.width),
    top: offset(info.height),
    width: S,
    height: S,
  });
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function cleanSharpMessage(message: string): string {
  const line = message
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .slice(0, 2)
    .join(': ');
  return line.replace(/^Input (buffer|file) /, '').slice(0, 200) || 'cannot decode';
}
