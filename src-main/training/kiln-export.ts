/** What an export folder says about itself: kiln.json's schema, and its account of model.onnx. */
import { z } from 'zod';
import { ArchSpecSchema } from '../../src-shared/arch-spec.ts';
import { ONNX_INPUT, ONNX_LAYOUTS, ONNX_OPSET, ONNX_OUTPUT, type OnnxLayout } from '../engine/onnx/graph-to-onnx.ts';

export const ONNX_FILE = 'model.onnx';

/** kiln.json's account of model.onnx: how to feed it and what comes out. */
export const OnnxModelInfoSchema = z.object({
  file: z.string(),
  opset: z.number().int(),
  /** NCHW: [batch, 3, H, W]; NHWC: [batch, H, W, 3]. */
  layout: z.enum(ONNX_LAYOUTS),
  input: z.string(),
  output: z.string(),
  /** What the input holds: RGB float32 in 0..1, resized as `fit` says; the run's mean/std are applied inside the model. */
  inputRange: z.literal('0..1'),
  normalisation: z.literal('in-model'),
});
export type OnnxModelInfo = z.infer<typeof OnnxModelInfoSchema>;

export function onnxModelInfo(layout: OnnxLayout): OnnxModelInfo {
  return {
    file: ONNX_FILE,
    opset: ONNX_OPSET,
    layout,
    input: ONNX_INPUT,
    output: ONNX_OUTPUT,
    inputRange: '0..1',
    normalisation: 'in-model',
  };
}

const triple = z.tuple([z.number(), z.number(), z.number()]);

/** What prediction needs besides the model: `kiln.json` beside `model.json`. */
export const KilnExportSchema = z.object({
  format: z.literal(1),
  runId: z.string(),
  runName: z.string(),
  checkpoint: z.enum(['best', 'latest']),
  /** Epochs finished when the exported checkpoint was written. */
  epoch: z.number().int().min(0),
  classes: z.array(z.string()).min(1),
  /** Images are resized to imageSize × imageSize RGB, as the dataset import did. */
  imageSize: z.number().int().min(1),
  /** How a non-square image was made square on import: centre crop or black bars. */
  fit: z.enum(['crop', 'pad']),
  /** Per-channel mean and std on the 0..1 scale: input = (pixel / 255 − mean) / std. */
  mean: triple,
  std: triple,
  arch: ArchSpecSchema,
  /** Validation accuracy of the exported checkpoint, as the run measured it (null if unknown). */
  valAcc: z.number().nullable(),
  ttaAcc: z.number().nullable(),
  dataset: z.object({ id: z.string(), name: z.string(), manifestHash: z.string() }),
  kilnVersion: z.string(),
  exportedAt: z.string(),
  /** The ONNX model's file and input convention; absent when the folder holds the TensorFlow.js model. */
  onnx: OnnxModelInfoSchema.optional(),
});
export type KilnExport = z.infer<typeof KilnExportSchema>;
