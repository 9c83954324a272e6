// sharp loads on first use (in decode-budget.ts), and as the build the host allows (its wasm build in Electron on
// Linux): importing this module from the main process must not load a native module.
import { imageHeaderSize } from './decode-budget.ts';

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
  // Headers only: no pixels are decoded. EXIF orientations 5–8 swap the sides; the short side is the same either way.
  const size = await imageHeaderSize(file);
  return size ? Math.min(size.width, size.height) : null;
}

/** Judge a folder's resolution from the headers of up to 64 of its files (evenly spread, so every class counts). */
export async function probeResolution(files: string[]): Promise<ResolutionProbe> {
  const n = Math.min(SAMPLE, files.length);
  const picked = Array.from({ length: n }, (_, k) => files[Math.floor((k * files.length) / n)]!);
  const sides = (await Promise.all(picked.map(shortSide))).filter((s): s is number => s !== null).sort((a, b) => a - b);
  const medianShortSide = sides.length ? sides[Math.floor(sides.length / 2)]! : null;
  return { medianShortSide, sampled: sides.length, suggestedSize: suggestImageSize(medianShortSide) };
}
