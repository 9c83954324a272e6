import { BACKEND_CHOICES, backendFlag, MODEL_FLAGS, parseFlags, numberFlag } from '../args.ts';
import { writeJsonAtomic } from '../../common/atomic-write.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { Classifier, classFromFolder, collectImageFiles, summarizeFilePredictions } from '../../training/predict.ts';
import { parseCheckpointChoice } from '../../training/run-model.ts';
import { parseBackboneRef } from '../../engine/backbones/registry.ts';
import { formatPercent, formatTable } from '../format.ts';

const HELP = `Usage: kiln predict <export-dir|model.onnx|run-id|imagenet:NAME> <image or folder>… [options]

Classifies image files (folders: every image inside, recursively) with the preprocessing the model
was trained with: the dataset import's resize, then the training normalisation. A folder ends with
how many images went to each class, and the accuracy when its images sit in class folders
(<folder>/<class>/…, as for kiln dataset import). An ONNX export (its folder, or the model.onnx
file alone) runs in ONNX Runtime: the file you would ship. imagenet:NAME runs a pretrained backbone
(kiln backbone list) with its ImageNet head: the top-5 of the 1000 ImageNet classes, images resized as
its pretrained config says; --json then includes each image's 1000 logits.

Options:
  --top K          classes to show per image               [3; 5 for imagenet:NAME]
  --checkpoint C   with a run id: best | latest            [best]
  --backend B      ${BACKEND_CHOICES}   [cpu; wasm for imagenet:NAME]
  --out FILE       also write the JSON result to FILE
  --home DIR       Kiln home (with a run id)
  --json           one JSON object: predictions, summary and failures`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    top: { type: 'string' },
    out: { type: 'string' },
    ...MODEL_FLAGS,
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length < 2)
    throw new UsageError(
      `predict: expected <export-dir|model.onnx|run-id|imagenet:NAME> <image or folder>…, got ${positionals.length} argument(s)`,
    );
  const backend = backendFlag(v.backend);
  const [target, ...inputs] = positionals as [string, ...string[]];
  const imagenet = parseBackboneRef(target) !== null;
  const top = numberFlag('top', v.top, { int: true, min: 1, max: 1000 }) ?? (imagenet ? 5 : 3);
  const files = await collectImageFiles(inputs);
  if (files.length === 0) throw new UsageError(`predict: no image files in ${inputs.join(', ')}`);
  const started = performance.now();
  const classifier = await Classifier.open(resolveHome(v.home), target, {
    checkpoint: parseCheckpointChoice(v.checkpoint),
    ...(backend ? { backend } : {}),
  });
  try {
    const classes = classifier.kiln.classes;
    const { predictions: raw, failures } = await classifier.predictFiles(
      files.map((f) => f.file),
      top,
      { logits: imagenet && Boolean(v.json || v.out) },
    );
    const folderClass = new Map(files.map((f) => [f.file, classFromFolder(f, classes)]));
    const predictions = raw.map((p) => {
      const c = folderClass.get(p.file);
      return c ? { ...p, folderClass: c, correct: classes[p.classIndex] === c } : p;
    });
    const summary = { ...summarizeFilePredictions(predictions, failures.length, classes), seconds: (performance.now() - started) / 1000 };
    const result = {
      model: classifier.source,
      runtime: classifier.runtime,
      runId: classifier.kiln.runId,
      ...(classifier.weights ? { weights: classifier.weights } : {}),
      predictions,
      summary,
      failures,
    };
    if (v.out) await writeJsonAtomic(v.out, result);
    if (v.json) {
      console.log(JSON.stringify(result, null, 2));
    } else {
      // Paths as given on the command line (folders: joined with what was found inside).
      const width = Math.max(...predictions.map((p) => p.file.length), 4);
      for (const p of predictions) {
        const mark = 'correct' in p ? (p.correct ? '  ✓' : `  ✗ (folder: ${p.folderClass})`) : '';
        console.log(`${p.file.padEnd(width)}  ${p.top.map((t) => `${t.className} ${formatPercent(t.probability, 1)}`).join(', ')}${mark}`);
      }
      for (const f of failures) console.error(`kiln: skipped ${f.file}: ${f.error}`);
      if (classifier.weights && !classifier.weights.verified)
        console.error(`note: ${target} ran unverified weights (sha256 ${classifier.weights.sha256}, added with --unverified)`);
      if (files.length > 1) {
        console.log('');
        // ImageNet's 1000 classes: only those predicted.
        const rows = summary.predicted.filter((c) => !imagenet || c.count > 0);
        console.log(
          formatTable(
            ['PREDICTED', 'IMAGES'],
            rows.map((c) => [c.className, String(c.count)]),
            [false, true],
          ),
        );
        const acc =
          summary.accuracy !== null ? `; accuracy ${formatPercent(summary.accuracy)} on the ${summary.labelled} in class folders` : '';
        console.log(
          `${summary.images} image(s) in ${summary.seconds.toFixed(1)} s${failures.length ? `, ${failures.length} skipped` : ''}${acc}`,
        );
      }
      if (v.out) console.log(`Wrote ${v.out}`);
    }
    return failures.length > 0 && predictions.length === 0 ? 1 : 0;
  } finally {
    classifier.dispose();
  }
}
