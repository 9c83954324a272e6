import { BACKEND_CHOICES, backendFlag, MODEL_FLAGS, parseFlags } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { exportRun } from '../../training/export-run.ts';
import { parseCheckpointChoice } from '../../training/run-model.ts';
import { validateRunId } from '../../runs/run-id.ts';
import { formatPercent } from '../../runs/run-format.ts';

const HELP = `Usage: kiln export <run-id> --out <dir> [options]

Writes <dir>/model.json + weights.bin (TensorFlow.js layers format: tf.loadLayersModel reads it)
and <dir>/kiln.json (class names, input size, normalisation, architecture) for kiln predict.

Options:
  --out DIR        the folder to write (created if missing; \`kiln export <run-id> <dir>\` works too)
  --checkpoint C   best | latest                      [best]
  --backend B      ${BACKEND_CHOICES}   [cpu]
  --home DIR       Kiln home
  --json           print the result as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    ...MODEL_FLAGS,
    out: { type: 'string' },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length === 1 && v.out === undefined) throw new UsageError('export: expected --out <dir> (the folder to write)');
  if (positionals.length !== (v.out === undefined ? 2 : 1)) {
    throw new UsageError(`export: expected <run-id> --out <dir>, got ${positionals.length} argument(s)${v.out !== undefined ? ' and --out' : ''}`);
  }
  const backend = backendFlag(v.backend);
  const [id, dir] = [validateRunId(positionals[0]!), v.out ?? positionals[1]!];
  const result = await exportRun(resolveHome(v.home), id, dir, {
    checkpoint: parseCheckpointChoice(v.checkpoint),
    ...(backend ? { backend } : {}),
  });
  if (v.json) console.log(JSON.stringify(result, null, 2));
  else {
    const k = result.kiln;
    console.log(
      `Exported run ${id} (${k.checkpoint} checkpoint, epoch ${k.epoch}, val acc ${formatPercent(k.valAcc)}) to ${result.dir}\n` +
        `  ${result.files.map((f) => f.slice(result.dir.length + 1)).join(', ')}; predict with: kiln predict ${dir} <image or folder>`,
    );
  }
  return 0;
}
