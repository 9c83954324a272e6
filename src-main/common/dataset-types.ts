/**
 * What the engine trains from. Images are 8-bit RGB, row-major HWC, packed
 * back to back: image i occupies bytes [i*S*S*3, (i+1)*S*S*3).
 */
export interface ImageSplit {
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
  /** Each image's index in the stored split, when some were left out (excluded); absent = 0..count-1. */
  indices?: Uint32Array;
}

/** Images left out of new runs, by index in the stored split (the person's exclusion list; the files stay). */
export interface DatasetExclusions {
  train: number[];
  val: number[];
  /** Images given another class for new runs (stored index → new label); the stored labels stay. */
  moved?: { train: { index: number; from: number; to: number }[]; val: { index: number; from: number; to: number }[] };
}

/** Whether a list changes anything: what a new run snapshots only when it does. */
export function hasExclusions(ex: DatasetExclusions | undefined): ex is DatasetExclusions {
  return !!ex && !!(ex.train.length || ex.val.length || ex.moved?.train.length || ex.moved?.val.length);
}

/** Labels with the moved images' new classes (a copy; the split is untouched when nothing moved). */
function relabelled(s: ImageSplit, moves: { index: number; to: number }[] | undefined): ImageSplit {
  if (!moves?.length) return s;
  const labels = Uint8Array.from(s.labels);
  for (const m of moves) if (m.index < s.count) labels[m.index] = m.to;
  return { ...s, labels };
}

/** How many of a split's `count` images remain once `drop` (stored indices) is left out: what withoutExcluded keeps. */
export function keptCount(count: number, drop: readonly number[] | undefined): number {
  return count - new Set((drop ?? []).filter((i) => Number.isInteger(i) && i >= 0 && i < count)).size;
}

/** The dataset without the excluded images; each split keeps the stored index of every image it kept. */
export function withoutExcluded<D extends { train: ImageSplit; val: ImageSplit; imageSize: number }>(
  d: D,
  ex: DatasetExclusions | undefined,
): D {
  if (!hasExclusions(ex)) return d;
  d = { ...d, train: relabelled(d.train, ex.moved?.train), val: relabelled(d.val, ex.moved?.val) };
  const per = d.imageSize * d.imageSize * 3;
  const filter = (s: ImageSplit, drop: number[]): ImageSplit => {
    if (!drop.length) return s;
    const gone = new Set(drop);
    const keep: number[] = [];
    for (let i = 0; i < s.count; i++) if (!gone.has(i)) keep.push(s.indices ? s.indices[i]! : i);
    const images = new Uint8Array(keep.length * per);
    const labels = new Uint8Array(keep.length);
    let j = 0;
    for (let i = 0; i < s.count; i++) {
      if (gone.has(i)) continue;
      images.set(s.images.subarray(i * per, (i + 1) * per), j * per);
      labels[j] = s.labels[i]!;
      j++;
    }
    return { count: keep.length, images, labels, indices: Uint32Array.from(keep) };
  };
  return { ...d, train: filter(d.train, ex.train), val: filter(d.val, ex.val) };
}

export interface LoadedDataset {
  id: string;
  name: string;
  /** Side of the square images, in pixels. */
  imageSize: number;
  classes: string[];
  /** Per-channel mean and std of the training split, on the 0..1 scale (pixel / 255). */
  mean: [number, number, number];
  std: [number, number, number];
  train: ImageSplit;
  val: ImageSplit;
  /** A hash of the manifest, so a run record can tell which data it trained on. */
  manifestHash: string;
}
