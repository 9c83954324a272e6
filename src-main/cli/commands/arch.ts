import { didYouMean, parseFlags, numberFlag } from '../args.ts';
import { formatTable } from '../format.ts';
import { UsageError } from '../../common/errors.ts';
import { buildGraph, summarize } from '../../engine/arch/graph.ts';
import { PRESETS } from '../../engine/arch/presets.ts';
import { resolveArch } from '../../training/resolve-config.ts';
import { readArch } from './train.ts';

const HELP = `Usage:
  kiln arch list [--json]
  kiln arch show <preset|spec.json> [--image-size 32] [--classes 10] [--json]`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    json: { type: 'boolean' },
    'image-size': { type: 'string' },
    classes: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  const [sub, target, ...extra] = positionals;
  if (v.help || !sub) {
    console.log(HELP);
    return v.help ? 0 : 2;
  }
  if (sub === 'list') {
    const rows = PRESETS.map((p) => {
      const s = summarize(buildGraph(p.spec, { imageSize: 32, numClasses: 10 }));
      return {
        id: p.id,
        title: p.title,
        spec: p.spec,
        trainableParams: s.trainableParams,
        flopsPerImage: s.flopsPerImage,
        recipe: p.recipe,
      };
    });
    if (v.json) console.log(JSON.stringify(rows, null, 2));
    else {
      console.log(
        formatTable(
          ['PRESET', 'PARAMS', 'GFLOPS/IMAGE (32×32)', 'TITLE'],
          rows.map((r) => [r.id, `${(r.trainableParams / 1e6).toFixed(2)}M`, (r.flopsPerImage / 1e9).toFixed(2), r.title]),
          [false, true, true, false],
        ),
      );
    }
    return 0;
  }
  if (sub === 'show') {
    if (!target) throw new UsageError('arch show: expected a preset id or a spec .json file');
    if (extra.length) throw new UsageError(`arch show: unexpected argument "${extra[0]}"`);
    const imageSize = numberFlag('image-size', v['image-size'], { int: true, min: 8, max: 1024 }) ?? 32;
    const numClasses = numberFlag('classes', v.classes, { int: true, min: 2, max: 256 }) ?? 10;
    const { spec } = resolveArch(readArch(target));
    let summary;
    try {
      summary = summarize(buildGraph(spec, { imageSize, numClasses }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (v.json) {
      console.log(JSON.stringify(summary, null, 2));
      return 0;
    }
    console.log(
      formatTable(
        ['LAYER', 'OUTPUT (H×W×C)', 'PARAMS'],
        summary.layers.map((l) => [l.name, l.outputShape.join('×'), l.params.toLocaleString('en-US')]),
        [false, false, true],
      ),
    );
    console.log(`trainable parameters: ${summary.trainableParams.toLocaleString('en-US')}`);
    console.log(`all parameters:       ${summary.params.toLocaleString('en-US')}`);
    console.log(`FLOPs per image:      ${(summary.flopsPerImage / 1e9).toFixed(3)} G`);
    return 0;
  }
  throw new UsageError(`arch: unknown subcommand "${sub}"; expected list or show${didYouMean(sub, ['list', 'show'])}`);
}
