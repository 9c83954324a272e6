import { z } from 'zod';
import { formatZodError } from './zod-error.ts';

/**
 * Architectures are data: a spec is plain JSON, validated here, turned into a graph of layer nodes by
 * `src-main/engine/arch/graph.ts`. The UI edits specs (its fields come from these schemas), run records store them.
 */
export const WideResNetSpecSchema = z.object({
  kind: z.literal('wide-resnet'),
  name: z.string().max(80).optional(),
  /** Number of groups; widths are stemChannels·widthFactor·2^i. */
  groups: z.number().int().min(1).max(6).meta({ title: 'Groups' }),
  blocksPerGroup: z.number().int().min(1).max(16).meta({ title: 'Blocks per group' }),
  widthFactor: z.number().int().min(1).max(20).meta({ title: 'Width factor' }),
  stemChannels: z.number().int().min(1).max(256).meta({ title: 'Start channels' }),
  /** Dropout between the two convs of a block (0 = none), as in the WRN paper. */
  dropout: z.number().min(0).max(0.9).meta({ title: 'Dropout' }),
});

export const ResNet9SpecSchema = z.object({
  kind: z.literal('resnet9'),
  name: z.string().max(80).optional(),
  /** Channels of prep, layer1, layer2, layer3. */
  widths: z.tuple(['Prep', 'Layer 1', 'Layer 2', 'Layer 3'].map((l) => z.number().int().min(1).max(2048).meta({ title: `${l} channels` })) as [z.ZodNumber, z.ZodNumber, z.ZodNumber, z.ZodNumber]),
  /** Page scales the logits by 0.125 rather than tuning the learning rate of the last layer. */
  outputScale: z.number().positive().max(100).meta({ title: 'Output scale' }),
  /** The 3×3 convolutions: standard, or depthwise-separable (fewer weights and FLOPs). Absent = standard. */
  conv: z.enum(['standard', 'separable']).optional().meta({ title: '3×3 convolutions' }),
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
