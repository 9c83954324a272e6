import fs from 'node:fs';
import { BACKEND_CHOICES, BACKENDS_HELP, backendFlag, didYouMean, parseFlags, numberFlag } from '../args.ts';
import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { parseArchSpec, type ArchSpec } from '../../../src-shared/arch-spec.ts';
import { findPreset, PRESETS } from '../../engine/arch/presets.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfig, type RunConfigPatch } from '../../../src-shared/run-config.ts';
import { AUTO_RULE_TEXT } from '../../training/resolve-config.ts';
import { createRun } from '../../training/create-run.ts';
import { RunStore } from '../../runs/run-store.ts';
import { validateRunId } from '../../runs/run-id.ts';
import { followTrainer } from '../follow-trainer.ts';
import { FAST_MODE_MAX_IMAGES, TransferModeSchema, type TransferMode } from '../../../src-shared/run-config.ts';
import { backboneName } from '../../training/backbone-source.ts';
import { describeBackboneStart } from '../../training/backbone-init.ts';

const HELP = `Usage: kiln train --dataset <id|synthetic> --arch <preset|spec.json> [options]

Options:
  --dataset ID|NAME     dataset id or name from the store, or "synthetic" (built in)   [synthetic]
  --arch A              ${PRESETS.map((p) => p.id).join(', ')}, or a spec .json file   [resnet-9-s]
  --epochs N            passes over the training data            [auto: the recipe's, more for small datasets]
  --batch-size B        images per step                           [auto: the recipe's, smaller for small data]
  --lr-max X            peak learning rate                        [auto: the recipe's, scaled with the batch]
  --weight-decay W      L2 weight decay                           [the recipe's]
  --label-smoothing S   label smoothing ε                         [the recipe's]
  --schedule S          one-cycle | constant                      [one-cycle]
  --cutout N            cutout square side in pixels, 0 = off     [the recipe's]
  --no-tta              skip test-time augmentation (done after the last epoch and on the best checkpoint)
  --seed N              seeds weights, order and augmentation     [0]
  --backend B           ${BACKEND_CHOICES}   [auto]
  --limit-train N       use only the first N training images
  --limit-val N         use only the first N validation images
  --init-from RUN       fine-tune: start from that run's best weights (its architecture;
                        the head is drawn afresh when the class lists differ)
  --init-from imagenet:NAME
                        start from a pretrained ImageNet backbone (kiln backbone list): its
                        architecture and weights, a new head for your classes
  --transfer MODE       with imagenet:NAME: fast (backbone frozen, features computed once and
                        cached, a head trained in seconds) or fine-tune (everything trains, the
                        backbone at 1/10 of the head's learning rate)
                        [auto: fast below ${FAST_MODE_MAX_IMAGES.toLocaleString('en-US')} training images]
  --freeze-epochs N     with --init-from (run, or a fine-tuned backbone): train only the head for the first N epochs   [0]
  --name NAME           a name for the run
  --home DIR            Kiln home                                 [$KILN_HOME or the app's data folder]
  --json                one JSON object a line

${BACKENDS_HELP}

Auto settings (recorded in the run; kiln runs show <id> says how each came out):
  ${wrap(AUTO_RULE_TEXT, 96, '  ')}

Ctrl-C pauses the run (checkpoint); resume with: kiln runs resume <id>`;

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}

export function readArch(value: string): string | ArchSpec {
  if (findPreset(value)) return value;
  if (!value.endsWith('.json') && !fs.existsSync(value)) {
    throw new UsageError(
      `--arch: unknown preset "${value}"; expected one of ${PRESETS.map((p) => p.id).join(', ')} or a spec .json file${didYouMean(
        value,
        PRESETS.map((p) => p.id),
      )}`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(value, 'utf8');
  } catch {
    throw new UsageError(`--arch: cannot read ${value}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--arch: ${value} is not valid JSON (${(err as Error).message})`);
  }
  try {
    return parseArchSpec(json, value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The run config a command line asks for. */
export function configFromFlags(argv: string[]): { config: RunConfig; home: string; json: boolean; name?: string; help: boolean } {
  const { values: v } = parseFlags(
    argv,
    {
      dataset: { type: 'string' },
      arch: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      'lr-max': { type: 'string' },
      'weight-decay': { type: 'string' },
      'label-smoothing': { type: 'string' },
      schedule: { type: 'string' },
      cutout: { type: 'string' },
      'no-tta': { type: 'boolean' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      'limit-train': { type: 'string' },
      'limit-val': { type: 'string' },
      'init-from': { type: 'string' },
      transfer: { type: 'string' },
      'freeze-epochs': { type: 'string' },
      name: { type: 'string' },
      home: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  const home = resolveHome(v.home);
  if (v.help) return { config: DEFAULT_RUN_CONFIG, home, json: false, help: true };
  const backend = backendFlag(v.backend);
  if (v.schedule !== undefined && v.schedule !== 'one-cycle' && v.schedule !== 'constant') {
    throw new UsageError(`--schedule: expected one-cycle or constant, got "${v.schedule}"`);
  }
  const patch: RunConfigPatch = {
    data: {
      ...(v.dataset !== undefined ? { dataset: v.dataset } : {}),
      ...(v['limit-train'] !== undefined ? { limitTrain: numberFlag('limit-train', v['limit-train'], { int: true, min: 1 }) } : {}),
      ...(v['limit-val'] !== undefined ? { limitVal: numberFlag('limit-val', v['limit-val'], { int: true, min: 1 }) } : {}),
    },
    // A fine-tune without --arch asks for auto: its source run's architecture (run creation applies the rule).
    net: v.arch !== undefined ? { arch: readArch(v.arch) } : v['init-from'] !== undefined ? { arch: null } : {},
    ...(v['init-from'] !== undefined
      ? { initFrom: backboneName(v['init-from']) !== null ? v['init-from'] : validateRunId(v['init-from']) }
      : {}),
    ...(v.transfer !== undefined ? { transfer: transferFlag(v.transfer, v['init-from']) } : {}),
    aug: {
      ...(v.cutout !== undefined ? { cutout: numberFlag('cutout', v.cutout, { int: true, min: 0, max: 64 }) } : {}),
      ...(v['no-tta'] ? { tta: false } : {}),
    },
    opt: {
      ...(v.epochs !== undefined ? { epochs: numberFlag('epochs', v.epochs, { int: true, min: 1, max: 10_000 }) } : {}),
      ...(v['batch-size'] !== undefined ? { batchSize: numberFlag('batch-size', v['batch-size'], { int: true, min: 1, max: 8192 }) } : {}),
      ...(v['lr-max'] !== undefined ? { lrMax: numberFlag('lr-max', v['lr-max'], { min: 1e-8, max: 100 }) } : {}),
      ...(v['weight-decay'] !== undefined ? { weightDecay: numberFlag('weight-decay', v['weight-decay'], { min: 0, max: 1 }) } : {}),
      ...(v['label-smoothing'] !== undefined
        ? { labelSmoothing: numberFlag('label-smoothing', v['label-smoothing'], { min: 0, max: 0.99 }) }
        : {}),
      ...(v.schedule !== undefined ? { schedule: v.schedule as 'one-cycle' | 'constant' } : {}),
      ...(v['freeze-epochs'] !== undefined
        ? { freezeEpochs: numberFlag('freeze-epochs', v['freeze-epochs'], { int: true, min: 0, max: 10_000 }) }
        : {}),
    },
    ...(v.seed !== undefined ? { seed: numberFlag('seed', v.seed, { int: true, min: 0, max: 2 ** 31 - 1 }) } : {}),
    ...(backend !== undefined ? { backend } : {}),
  };
  if (v['freeze-epochs'] !== undefined && v['init-from'] === undefined)
    throw new UsageError('--freeze-epochs: only with --init-from <run-id> or imagenet:NAME');
  if (v.arch !== undefined && backboneName(v['init-from']) !== null)
    throw new UsageError(`--arch: a run from ${v['init-from']} trains that backbone's architecture; leave --arch out`);
  const config = mergeRunConfig(DEFAULT_RUN_CONFIG, patch);
  return { config, home, json: !!v.json, ...(v.name ? { name: v.name } : {}), help: false };
}

function transferFlag(value: string, initFrom: string | undefined): TransferMode {
  if (backboneName(initFrom) === null) throw new UsageError('--transfer: only with --init-from imagenet:NAME');
  const parsed = TransferModeSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`--transfer: expected fast, fine-tune or auto, got "${value}"`);
  return parsed.data;
}

export async function run(argv: string[]): Promise<number> {
  const { config, home, json, name, help } = configFromFlags(argv);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const store = new RunStore(home);
  await store.recoverInterrupted();
  const record = await createRun(home, config, name);
  if (record.origin && !json) {
    const o = record.origin;
    const frozen = config.opt.freezeEpochs > 0 ? `, body frozen for ${config.opt.freezeEpochs} epoch(s)` : '';
    console.log(
      `starting from run ${o.runId} (epoch ${o.epoch}); head ${o.head === 'kept' ? 'kept' : `re-initialised for ${record.dataset.classes.length} classes`}${frozen}`,
    );
  }
  const backbone = record.resolved?.config?.backbone;
  if (backbone && !json) console.log(describeBackboneStart(backbone, record, config.opt.freezeEpochs));
  return followTrainer(home, record.id, { json });
}
