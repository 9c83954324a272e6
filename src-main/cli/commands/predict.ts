import path from 'node:path';
import { backendFlag, MODEL_FLAGS, parseFlags, numberFlag } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { Classifier, collectImageFiles } from '../../runs/predict.ts';
import { parseCheckpointChoice } from '../../runs/run-model.ts';
import { formatPercent } from '../../runs/run-format.ts';

const HELP = `Usage: kiln predict <export-dir|run-id> <image or folder>… [options]

Classifies image files (folders: every image inside, recursively) with the preprocessing the model
was trained with: the dataset import's resize, then the training normalisation.

Options:
  --top K          classes to show per image               [3]
  --checkpoint C   with a run id: best | latest            [best]
  --backend B      cpu | wasm | …                          [cpu]
  --home DIR       Kiln home (with a run id)
  --json           one JSON object: predictions and failures`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    top: { type: 'string' },
    ...MODEL_FLAGS,
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length < 2) throw new UsageError(`predict: expected <export-dir|run-id> <image or folder>…, got ${positionals.length} argument(s)`);
  const backend = backendFlag(v.backend);
  const top = numberFlag('top', v.top, { int: true, min: 1, max: 256 }) ?? 3;
  const [target, ...inputs] = positionals as [string, ...string[]];
  const files = await collectImageFiles(inputs);
  if (files.length === 0) throw new UsageError(`predict: no image files in ${inputs.join(', ')}`);
  const classifier = await Classifier.open(resolveHome(v.home), target, {
    checkpoint: parseCheckpointChoice(v.checkpoint),
    ...(backend ? { backend } : {}),
  });
  try {
    const { predictions, failures } = await classifier.predictFiles(files, top);
    if (v.json) {
      console.log(JSON.stringify({ model: classifier.source, runId: classifier.kiln.runId, predictions, failures }, null, 2));
    } else {
      const width = Math.max(...predictions.map((p) => path.relative('.', p.file).length), 4);
      for (const p of predictions) {
        console.log(`${path.relative('.', p.file).padEnd(width)}  ${p.top.map((t) => `${t.className} ${formatPercent(t.probability, 1)}`).join(', ')}`);
      }
      for (const f of failures) console.error(`kiln: skipped ${f.file}: ${f.error}`);
    }
    return failures.length > 0 && predictions.length === 0 ? 1 : 0;
  } finally {
    classifier.dispose();
  }
}
