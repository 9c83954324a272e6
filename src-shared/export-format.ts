import { z } from 'zod';

/** What `kiln export` and the app's export panel can write. */
export const EXPORT_FORMATS = ['tfjs', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The ONNX model's input layout: [batch, 3, H, W] or [batch, H, W, 3]. */
export const ONNX_LAYOUTS = ['nchw', 'nhwc'] as const;
export type OnnxLayout = (typeof ONNX_LAYOUTS)[number];

export const ExportRequestSchema = z.object({
  format: z.enum(EXPORT_FORMATS).optional(),
  layout: z.enum(ONNX_LAYOUTS).optional(),
});
export type ExportRequest = z.infer<typeof ExportRequestSchema>;
