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
  widths: z.tuple(
    ['Prep', 'Layer 1', 'Layer 2', 'Layer 3'].map((l) =>
      z
        .number()
        .int()
        .min(1)
        .max(2048)
        .meta({ title: `${l} channels` }),
    ) as [z.ZodNumber, z.ZodNumber, z.ZodNumber, z.ZodNumber],
  ),
  /** Page scales the logits by 0.125 rather than tuning the learning rate of the last layer. */
  outputScale: z.number().positive().max(100).meta({ title: 'Output scale' }),
  /** The 3×3 convolutions: standard, or depthwise-separable (fewer weights and FLOPs). Absent = standard. */
  conv: z.enum(['standard', 'separable']).optional().meta({ title: '3×3 convolutions' }),
});

const STAGES = ['Stage 1', 'Stage 2', 'Stage 3', 'Stage 4'];
const stageTuple = (what: string, max: number) =>
  z.tuple(
    STAGES.map((l) =>
      z
        .number()
        .int()
        .min(1)
        .max(max)
        .meta({ title: `${l} ${what}` }),
    ) as [z.ZodNumber, z.ZodNumber, z.ZodNumber, z.ZodNumber],
  );

/**
 * He et al.'s ImageNet ResNet as torchvision builds it (v1.5: a bottleneck's stride on its 3×3 conv): a 7×7/2 stem
 * and a 3×3/2 max pool, four stages, global average pooling, a dense head. PyTorch's padding and BN epsilon, so
 * its pretrained weights give its logits. ResNet-18: basic, [2, 2, 2, 2]; ResNet-50: bottleneck, [3, 4, 6, 3].
 */
export const ResNetSpecSchema = z.object({
  kind: z.literal('resnet'),
  name: z.string().max(80).optional(),
  block: z.enum(['basic', 'bottleneck']).meta({ title: 'Block' }),
  blocks: stageTuple('blocks', 64),
  /** A bottleneck stage outputs 4× its width. */
  widths: stageTuple('width', 2048),
  stemChannels: z.number().int().min(1).max(512).meta({ title: 'Stem channels' }),
});

/** Sandler et al.'s MobileNetV2 as torchvision builds it: inverted residuals of depthwise 3×3 convs, ReLU6. */
export const MobileNetV2SpecSchema = z.object({
  kind: z.literal('mobilenetv2'),
  name: z.string().max(80).optional(),
  /** Scales every block's channels (rounded to multiples of 8), as torchvision's width_mult. */
  widthMultiplier: z.number().min(0.1).max(4).meta({ title: 'Width multiplier' }),
  /** The 1×1 conv before pooling: 1280 in the paper. */
  lastChannels: z.number().int().min(8).max(8192).meta({ title: 'Last conv channels' }),
  /** Dropout before the classifier (0.2 in torchvision). */
  dropout: z.number().min(0).max(0.9).meta({ title: 'Dropout' }),
});

export const ArchSpecSchema = z.discriminatedUnion('kind', [
  WideResNetSpecSchema,
  ResNet9SpecSchema,
  ResNetSpecSchema,
  MobileNetV2SpecSchema,
]);

/** Each kind's name as the editor titles it. */
export const KIND_TITLES: Record<ArchSpec['kind'], string> = {
  'wide-resnet': 'Wide ResNet',
  resnet9: 'ResNet-9',
  resnet: 'ResNet',
  mobilenetv2: 'MobileNetV2',
};

export type WideResNetSpec = z.infer<typeof WideResNetSpecSchema>;
export type ResNet9Spec = z.infer<typeof ResNet9SpecSchema>;
export type ResNetSpec = z.infer<typeof ResNetSpecSchema>;
export type MobileNetV2Spec = z.infer<typeof MobileNetV2SpecSchema>;
export type ArchSpec = z.infer<typeof ArchSpecSchema>;

export function parseArchSpec(value: unknown, what = 'architecture spec'): ArchSpec {
  const result = ArchSpecSchema.safeParse(value);
  if (!result.success) throw new Error(formatZodError(result.error, what));
  return result.data;
}
