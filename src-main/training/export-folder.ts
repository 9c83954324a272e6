import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.ts';
import type { ExportFormat } from '../../src-shared/export-format.ts';

const LABEL: Record<ExportFormat, string> = { tfjs: 'TensorFlow.js', onnx: 'ONNX' };

/**
 * One format per export folder: both would share (and overwrite) one kiln.json, and a folder holding model.json,
 * weights.bin and model.onnx says nothing about which is which. Exporting the same format again replaces it.
 */
export function assertOneFormatPerFolder(dir: string, format: ExportFormat, files: Record<ExportFormat, readonly string[]>): void {
  const other: ExportFormat = format === 'onnx' ? 'tfjs' : 'onnx';
  const found = files[other].filter((f) => fs.existsSync(path.join(dir, f)));
  if (found.length === 0) return;
  throw new UsageError(
    `${dir} already holds a ${LABEL[other]} export (${found.join(', ')}); export ${LABEL[format]} into another folder, ` +
      `e.g. ${path.join(path.dirname(dir), `${path.basename(dir)}-${format}`)}, so each keeps its own kiln.json`,
  );
}
