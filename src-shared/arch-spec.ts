import { z } from 'zod';
import { formatZodError } from './zod-error.ts';

/**
 * Architectures are data: a spec is plain JSON, validated here, turned into a graph by
 * `build-graph.ts`. The UI edits specs, run records store them.
 */
export const WideResNetSpecSchema = z.object({
  kind: z.literal('wide-resnet'),
  name: z.string().max(80).optional(),
  /** Number of groups; widths are stemChannels·widthFactor·2^i. */
  groups: z.number().int().min(1).max(6),
  blocksPerGroup: z.number().int().min(1).max(16),
  widthFactor: z.number().int().min(1).max(20),
  stemChannels: z.number().int().min(1).max(256),
  /** Dropout between the two convs of a block (0 = none), as in the WRN paper. */
  dropout: z.number().min(0).max(0.9),
});

export const ResNet9SpecSchema = z.object({
  kind: z.literal('resnet9'),
  name: z.string().max(80).optional(),
  /** Channels of prep, layer1, layer2, layer3. */
  widths: z.tuple([
    z.number().int().min(1).max(2048),
    z.number().int().min(1).max(2048),
    z.number().int().min(1).max(2048),
    z.number().int().min(1).max(2048),
  ]),
  /** Page scales the logits by 0.125 rather than tuning the learning rate of the last layer. */
  outputScale: z.number().positive().max(100),
});

export const ArchSpecSchema = z.discriminatedUnion('kind', [WideResNetSpecSchema, ResNet9SpecSchema]);

export type WideResNetSpec = z.infer<typeof WideResNetSpecSchema>;
export type ResNet9Spec = z.infer<typeof ResNet9SpecSchema>;
export type ArchSpec = z.infer<typeof ArchSpecSchema>;

export function parseArchSpec(value: unknown, what = 'architecture spec'): ArchSpec {
  const result = ArchSpecSchema.safeParse(value);
  if (!result.success) throw new Error(formatZodError(result.error, what));
  return result.data;
}
