import fs from 'node:fs';
import { isBmp } from './bmp-decode.ts';
// sharp loads on first use, and as the build the host allows (its wasm build in Electron on Linux): importing
// this module from the main process must not load a native module.
import { loadSharp } from './sharp-build.ts';

/** Stored side for photos (a short side of PHOTO_MIN_SIDE px or more): enough to keep what tells photos apart. */
export const PHOTO_IMAGE_SIZE = 64;
/** Stored side for small images (icons, CIFAR-like thumbnails): larger would only add cost. */
export const SMALL_IMAGE_SIZE = 32;
export const PHOTO_MIN_SIDE = 64;
/** Files whose headers are read to judge the resolution: spread evenly over the folder. */
const SAMPLE = 64;

export interface ResolutionProbe {
  /** Median of min(width, height) over the sampled files, or null when none could be read. */
  medianShortSide: number | null;
  sampled: number;
  /** PHOTO_IMAGE_SIZE for photos, SMALL_IMAGE_SIZE for small images. */
  suggestedSize: number;
}

/** The size rule on its own: 64 px when the images' median short side is at least 64 px, else 32. */
export function suggestImageSize(medianShortSide: number | null): number {
  return medianShortSide !== null && medianShortSide >= PHOTO_MIN_SIDE ? PHOTO_IMAGE_SIZE : SMALL_IMAGE_SIZE;
}

/** Why that size, in the words the app shows beside it: "photos: median short side 270 px". */
export function sizeReason(medianShortSide: number | null): string {
  if (medianShortSide === null) return 'no image header could be read';
  return `${suggestImageSize(medianShortSide) === PHOTO_IMAGE_SIZE ? 'photos' : 'small images'}: median short side ${medianShortSide} px`;
}

async function shortSide(file: string): Promise<number | null> {
  try {
    // Headers only: no pixels are decoded. BMPs (which sharp does not read) carry the size at bytes 18–25.
    const handle = await fs.promises.open(file, 'r');
    let head: Buffer;
    try {
      head = Buffer.alloc(26);
      await handle.read(head, 0, 26, 0);
    } finally {
      await handle.close();
    }
    if (isBmp(head)) return Math.min(Math.abs(head.readInt32LE(18)), Math.abs(head.readInt32LE(22)));
    const sharp = await loadSharp();
    const m = await sharp(file).metadata();
    if (!m.width || !m.height) return null;
    // EXIF orientations 5–8 swap the sides; the short side is the same either way.
    return Math.min(m.width, m.height);
  } catch {
    return null;
  }
}

/** Judge a folder's resolution from the headers of up to 64 of its files (evenly spread, so every class counts). */
export async function probeResolution(files: string[]): Promise<ResolutionProbe> {
  const n = Math.min(SAMPLE, files.length);
  const picked = Array.from({ length: n }, (_, k) => files[Math.floor((k * files.length) / n)]!);
  const sides = (await Promise.all(picked.map(shortSide))).filter((s): s is number => s !== null).sort((a, b) => a - b);
  const medianShortSide = sides.length ? sides[Math.floor(sides.length / 2)]! : null;
  return { medianShortSide, sampled: sides.length, suggestedSize: suggestImageSize(medianShortSide) };
}
