import { numberFlag, parseFlags } from '../args.ts';
import { loadBackend } from '../../engine/backend/load-backend.ts';
import { loadCurrentDataset, resolveDatasetId } from '../../training/load-dataset.ts';
import { DEFAULT_LR_FIND, lrFind, lrFindBatchSize, scaleLr } from '../../training/lr-find.ts';
import { StepEta } from '../../training/step-eta.ts';
import { formatDuration } from '../format.ts';
import { configFromFlags } from './train.ts';

const HELP = `Usage: kiln lr-find --dataset <id|synthetic> --arch <preset|spec.json> [train options]
  [--start-lr 1e-5] [--end-lr 10] [--steps 100] [--for-batch N] [--json]

Trains from fresh weights while the learning rate rises exponentially and prints the loss
against the learning rate, with a suggested maximum learning rate.

It trains at the batch size \`kiln train\` would use with the same options (an auto batch depends
on the data, --limit-train and whether --epochs is given), and says which: give it the options of
the run you mean to start, or --for-batch N to have the suggestion scaled (linearly) to batch N.`;

export async function run(argv: string[]): Promise<number> {
  // Peel off this command's own flags; the rest are `kiln train`'s.
  const own = {
    'start-lr': { type: 'string' },
    'end-lr': { type: 'string' },
    steps: { type: 'string' },
    'for-batch': { type: 'string' },
  } as const;
  const mine: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '').split('=')[0]!;
    if (name in own) {
      mine.push(argv[i]!);
      if (!argv[i]!.includes('=') && i + 1 < argv.length) mine.push(argv[++i]!);
    } else rest.push(argv[i]!);
  }
  const { values: v } = parseFlags(mine, own, false);
  const { config, home, json, help } = configFromFlags(rest);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const opts = {
    ...DEFAULT_LR_FIND,
    startLr: numberFlag('start-lr', v['start-lr'], { min: 1e-10, max: 100 }) ?? DEFAULT_LR_FIND.startLr,
    endLr: numberFlag('end-lr', v['end-lr'], { min: 1e-9, max: 1000 }) ?? DEFAULT_LR_FIND.endLr,
    steps: numberFlag('steps', v.steps, { int: true, min: 10, max: 100_000 }) ?? DEFAULT_LR_FIND.steps,
  };
  const forBatch = numberFlag('for-batch', v['for-batch'], { int: true, min: 1, max: 8192 });
  const dataset = await loadCurrentDataset(home, await resolveDatasetId(home, config.data.dataset));
  const backend = await loadBackend(config.backend);
  const batch = lrFindBatchSize(dataset, config);
  if (!json)
    console.error(
      `lr-find on ${backend.name} (${backend.device}): ${opts.steps} steps at batch ${batch} (kiln train's batch with these options), lr ${opts.startLr} to ${opts.endLr}`,
    );
  const eta = new StepEta(opts.steps);
  let told = false;
  const result = await lrFind(dataset, config, {
    ...opts,
    onPoint: (p) => {
      const left = eta.tick(p.step);
      if (json) return;
      if (process.stderr.isTTY) {
        process.stderr.write(
          `\rstep ${p.step}/${opts.steps} lr ${p.lr.toExponential(2)} loss ${p.smoothedLoss.toFixed(3)}${left === null ? '' : `  ETA ${formatDuration(left)}`}   `,
        );
      } else if (left !== null && !told) {
        told = true;
        console.error(`lr-find: about ${formatDuration(left)} left (at most ${opts.steps} steps)`);
      }
    },
  });
  const scaled =
    forBatch === undefined
      ? null
      : {
          batchSize: forBatch,
          suggestedLr: scaleLr(result.suggestedLr, result.batchSize, forBatch),
          minLossLr: scaleLr(result.minLossLr, result.batchSize, forBatch),
        };
  if (json) {
    console.log(JSON.stringify({ ...result, ...(scaled ? { scaled } : {}), backend: backend.name }));
    return 0;
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const p of result.points.filter((_, i) => i % Math.ceil(result.points.length / 25) === 0)) {
    console.log(`lr ${p.lr.toExponential(2).padStart(9)}  loss ${p.smoothedLoss.toFixed(4)}`);
  }
  const fmt = (lr: number | null) => lr?.toExponential(2) ?? 'none';
  console.log(
    `suggested lr-max at batch ${result.batchSize}: ${fmt(result.suggestedLr)} (steepest descent); min-loss/10: ${fmt(result.minLossLr)}`,
  );
  if (scaled)
    console.log(
      `for batch ${scaled.batchSize} (scaled linearly): lr-max ${fmt(scaled.suggestedLr)}; min-loss/10: ${fmt(scaled.minLossLr)}`,
    );
  else console.log(`(for a run at another batch size, scale linearly: --for-batch N does it)`);
  return 0;
}
