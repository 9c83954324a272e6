import { z } from 'zod';

/** Bumped when the on-disk layout changes in a way old readers cannot handle. */
export const FORMAT_VERSION = 1;

/** File names inside a dataset folder. Images are raw uint8 RGB HWC records, labels one byte each. */
export const DATASET_FILES = {
  manifest: 'manifest.json',
  trainImages: 'train-images.u8',
  trainLabels: 'train-labels.u8',
  valImages: 'val-images.u8',
  valLabels: 'val-labels.u8',
  /** Folder imports: each stored image's file, relative to the imported folder ("/"-separated), in stored order. */
  sources: 'sources.json',
  /** Images the person excluded from new runs: `{train: number[], val: number[]}` of stored indices. */
  excluded: 'excluded.json',
  /** Images the person moved to another class for new runs: `{train: Move[], val: Move[]}` (see datasetMovesSchema). */
  moved: 'moved.json',
} as const;

export const datasetSourcesSchema = z.object({ train: z.array(z.string()), val: z.array(z.string()) });
/** Source file of each stored image, per split, in the order the images are stored. */
export type DatasetSources = z.infer<typeof datasetSourcesSchema>;

const channelTriple = z.tuple([z.number(), z.number(), z.number()]);

export const datasetSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cifar10'), url: z.string(), checksum: z.string().nullable() }),
  z.object({
    kind: z.literal('folder'),
    path: z.string(),
    layout: z.enum(['class-folders', 'split-folders']),
    valSplit: z.number().nullable(),
    seed: z.number().nullable(),
    fit: z.enum(['crop', 'pad']),
    /** Sent from a browser: `path` is then the folder's name on the person's machine (the uploaded copy is gone). */
    uploaded: z.boolean().optional(),
    /** Median short side of the source images in pixels (a sample's), when known. */
    medianShortSide: z.number().nullable().optional(),
  }),
]);
export type DatasetSource = z.infer<typeof datasetSourceSchema>;

export const datasetManifestSchema = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  id: z.string(),
  name: z.string(),
  source: datasetSourceSchema,
  imageSize: z.int().min(1),
  channels: z.literal(3),
  classes: z.array(z.string()).min(1).max(256),
  counts: z.object({ train: z.int().min(0), val: z.int().min(0) }),
  classCounts: z.object({ train: z.array(z.int().min(0)), val: z.array(z.int().min(0)) }),
  /** Per-channel mean and std of the training split on the 0..1 scale. */
  mean: channelTriple,
  std: channelTriple,
  createdAt: z.string(),
});
export type DatasetManifest = z.infer<typeof datasetManifestSchema>;

export type SplitName = 'train' | 'val';

/** An image given another class for new runs: its stored index, stored label and new label (the stored pixels and labels stay). */
export const datasetMoveSchema = z.object({ index: z.number().int().min(0), from: z.number().int().min(0), to: z.number().int().min(0) });
export const datasetMovesSchema = z.object({ train: z.array(datasetMoveSchema), val: z.array(datasetMoveSchema) });
export type DatasetMoves = z.infer<typeof datasetMovesSchema>;
