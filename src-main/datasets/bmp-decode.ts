/**
 * sharp's prebuilt libvips has no BMP loader, so uncompressed and bit-field
 * BMPs (the kinds cameras, Paint and Python write) are decoded here to RGB.
 * RLE-compressed BMPs are refused with a clear reason.
 */
export interface RawRgb {
  width: number;
  height: number;
  data: Buffer;
}

/** sharp's default `limitInputPixels` (0x3FFF²): one limit for every format, BMP included. */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;
/** Pixels decoded between yields to the event loop, so a server stays responsive while a large BMP decodes. */
const PIXELS_PER_SLICE = 1 << 18;

export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

/**
 * Decode to RGB. The dimensions are checked against MAX_INPUT_PIXELS before anything is
 * allocated, and the pixel loop yields to the event loop every PIXELS_PER_SLICE pixels.
 */
export async function decodeBmp(buf: Buffer): Promise<RawRgb> {
  const fail = (why: string): never => {
    throw new Error(`BMP: ${why}`);
  };
  if (buf.length < 26) fail('truncated header');
  const dataOffset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  let width: number,
    height: number,
    bpp: number,
    compression = 0,
    colorsUsed = 0;
  if (headerSize === 12) {
    width = buf.readUInt16LE(18);
    height = buf.readInt16LE(20);
    bpp = buf.readUInt16LE(24);
  } else if (headerSize >= 40) {
    if (buf.length < 14 + 40) fail('truncated header');
    width = buf.readInt32LE(18);
    height = buf.readInt32LE(22);
    bpp = buf.readUInt16LE(28);
    compression = buf.readUInt32LE(30);
    colorsUsed = buf.readUInt32LE(46);
  } else {
    return fail(`unknown header size ${headerSize}`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height === 0) fail(`bad dimensions ${width}×${height}`);
  if (width * height > MAX_INPUT_PIXELS)
    fail(
      `${width}×${height} is ${Math.round((width * height) / 1e6)} megapixels, more than the ${Math.round(MAX_INPUT_PIXELS / 1e6)} megapixels Kiln reads`,
    );
  if (compression === 1 || compression === 2) fail('RLE compression is not supported');
  if (compression !== 0 && compression !== 3 && compression !== 6) fail(`compression type ${compression} is not supported`);

  let masks: [number, number, number] | null = null;
  if (compression === 3 || compression === 6) {
    if (buf.length < 14 + 40 + 12) fail('truncated bit-field masks');
    masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62)];
  } else if (bpp === 16) {
    masks = [0x7c00, 0x03e0, 0x001f];
  }
  let palette: Buffer | null = null;
  if (bpp <= 8) {
    const entries = colorsUsed || 1 << bpp;
    const entryBytes = headerSize === 12 ? 3 : 4;
    const start = 14 + headerSize;
    palette = buf.subarray(start, start + entries * entryBytes);
    if (palette.length < entries * entryBytes) fail('truncated palette');
    if (entryBytes === 3) {
      const p4 = Buffer.alloc(entries * 4);
      for (let i = 0; i < entries; i++) palette.copy(p4, i * 4, i * 3, i * 3 + 3);
      palette = p4;
    }
  } else if (bpp !== 16 && bpp !== 24 && bpp !== 32) {
    fail(`${bpp} bits per pixel is not supported`);
  }

  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataOffset + stride * height > buf.length) fail(`truncated pixel data (${buf.length} bytes, need ${dataOffset + stride * height})`);
  const out = Buffer.alloc(width * height * 3);
  const shifts = masks?.map(maskShift) ?? null;
  const rowsPerSlice = Math.max(1, Math.floor(PIXELS_PER_SLICE / width));
  for (let y = 0; y < height; y++) {
    if (y > 0 && y % rowsPerSlice === 0) await new Promise((resolve) => setImmediate(resolve));
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette) {
        const bit = x * bpp;
        const byte = buf[row + (bit >> 3)];
        const idx = bpp === 8 ? byte : (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        const p = Math.min(idx, palette.length / 4 - 1) * 4;
        out[o] = palette[p + 2];
        out[o + 1] = palette[p + 1];
        out[o + 2] = palette[p];
      } else if (masks && shifts && bpp !== 24) {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        for (let c = 0; c < 3; c++) out[o + c] = scaleMasked(v, masks[c], shifts[c]);
      } else {
        const p = row + x * (bpp / 8);
        out[o] = buf[p + 2];
        out[o + 1] = buf[p + 1];
        out[o + 2] = buf[p];
      }
    }
  }
  return { width, height, data: out };
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

function scaleMasked(v: number, mask: number, s: { shift: number; max: number }): number {
  if (s.max === 0) return 0;
  return Math.round(((((v & mask) >>> 0) >>> s.shift) * 255) / s.max);
}
