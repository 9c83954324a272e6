import fs from 'node:fs';
import { memoryLimitBytes } from '../common/memory-limit.ts';
import { isBmp } from './bmp-decode.ts';
import { loadSharp } from './sharp-build.ts';

/** No single image file is read past this: a photo is a few MiB, a large scan a few hundred. */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 ** 2;
/** A decode estimated at this much or more is announced (progress `decoding`), so a crash can name its file. */
export const LARGE_DECODE_BYTES = 64 * 1024 ** 2;

/** The bytes of decoded pixels an import may hold at once: a quarter of the machine's memory, at most 1 GiB. */
export function defaultDecodeBudgetBytes(): number {
  return Math.min(1024 ** 3, Math.floor(memoryLimitBytes() / 4));
}

/**
 * Decodes share a byte budget: each takes its estimate (file + decoded pixels) before it starts and gives it back
 * when done, so a folder of huge images decodes a few at a time instead of all at once. FIFO, so a large image is
 * not starved by small ones.
 */
export class DecodeBudget {
  private used = 0;
  private readonly waiting: { bytes: number; go: () => void }[] = [];

  constructor(readonly capacity = defaultDecodeBudgetBytes()) {}

  async acquire(bytes: number): Promise<() => void> {
    const n = Math.min(bytes, this.capacity);
    if (this.waiting.length || this.used + n > this.capacity) await new Promise<void>((go) => this.waiting.push({ bytes: n, go }));
    else this.used += n;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      while (this.waiting.length && this.used + this.waiting[0]!.bytes <= this.capacity) {
        const next = this.waiting.shift()!;
        this.used += next.bytes;
        next.go();
      }
    };
  }
}

/** Width and height from the file's header (BMP's own, else what sharp reads without decoding), or null. */
export async function imageHeaderSize(file: string): Promise<{ width: number; height: number } | null> {
  try {
    const handle = await fs.promises.open(file, 'r');
    const head = Buffer.alloc(26);
    try {
      await handle.read(head, 0, 26, 0);
    } finally {
      await handle.close();
    }
    if (isBmp(head)) return { width: Math.abs(head.readInt32LE(18)), height: Math.abs(head.readInt32LE(22)) };
    const m = await (await loadSharp())(file).metadata();
    return m.width && m.height ? { width: m.width, height: m.height } : null;
  } catch {
    return null;
  }
}
