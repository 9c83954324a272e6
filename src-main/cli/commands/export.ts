import { BACKEND_CHOICES, backendFlag, choiceFlag, MODEL_FLAGS, parseFlags } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { EXPORT_FORMATS, exportRun } from '../../training/export-run.ts';
import { ONNX_LAYOUTS } from '../../engine/onnx/graph-to-onnx.ts';
import { parseCheckpointChoice } from '../../training/run-model.ts';
import { validateRunId } from '../../runs/run-id.ts';
import { formatPercent } from '../format.ts';

const HELP = `Usage: kiln export <run-id> --out <dir> [options]

Writes <dir>/model.json + weights.bin (TensorFlow.js layers format: tf.loadLayersModel reads it),
or with --format onnx <dir>/model.onnx (ONNX opset 17: ONNX Runtime, OpenCV, TensorRT… read it),
and <dir>/kiln.json (class names, input size, normalisation, architecture) for kiln predict.

The ONNX model takes float32 RGB in 0..1 (pixel / 255), images resized as the dataset import did,
with any batch size; the training normalisation is inside the model. Its output "logits" is
[batch, classes]; model.onnx also carries kiln.json as metadata.

Options:
  --out DIR        the folder to write (created if missing; \`kiln export <run-id> <dir>\` works too)
  --format F       tfjs | onnx                        [tfjs]
  --layout L       onnx input layout: nchw | nhwc     [nchw]
  --checkpoint C   best | latest                      [best]
  --backend B      ${BACKEND_CHOICES}   [cpu]
  --home DIR       Kiln home
  --json           print the result as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    format: { type: 'string' },
    layout: { type: 'string' },
    ...MODEL_FLAGS,
    out: { type: 'string' },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length === 1 && v.out === undefined) throw new UsageError('export: expected --out <dir> (the folder to write)');
  if (positionals.length !== (v.out === undefined ? 2 : 1)) {
    throw new UsageError(
      `export: expected <run-id> --out <dir>, got ${positionals.length} argument(s)${v.out !== undefined ? ' and --out' : ''}`,
    );
  }
  const backend = backendFlag(v.backend);
  const format = choiceFlag('format', v.format, EXPORT_FORMATS) ?? 'tfjs';
  const layout = choiceFlag('layout', v.layout, ONNX_LAYOUTS);
  if (layout && format !== 'onnx') throw new UsageError('--layout: only with --format onnx');
  const [id, dir] = [validateRunId(positionals[0]!), v.out ?? positionals[1]!];
  const result = await exportRun(resolveHome(v.home), id, dir, {
    format,
    ...(layout ? { layout } : {}),
    checkpoint: parseCheckpointChoice(v.checkpoint),
    ...(backend ? { backend } : {}),
  });
  if (v.json) console.log(JSON.stringify(result, null, 2));
  else {
    const k = result.kiln;
    console.log(
      `Exported run ${id} (${k.checkpoint} checkpoint, epoch ${k.epoch}, val acc ${formatPercent(k.valAcc)}) to ${result.dir}\n` +
        `  ${result.files.map((f) => f.slice(result.dir.length + 1)).join(', ')}; predict with: kiln predict ${dir} <image or folder>` +
        (k.onnx
          ? `\n  input "${k.onnx.input}" ${k.onnx.layout === 'nchw' ? `[batch, 3, ${k.imageSize}, ${k.imageSize}]` : `[batch, ${k.imageSize}, ${k.imageSize}, 3]`} RGB in 0..1, output "${k.onnx.output}" [batch, ${k.classes.length}]`
          : ''),
    );
  }
  return 0;
}
