import type { LoadedDataset } from '../common/dataset-types.ts';
import { UsageError } from '../common/errors.ts';
import type { Graph } from '../engine/arch/graph.ts';
import type { Model } from '../engine/model/model.ts';
import { headParamNames } from '../engine/train/fine-tune.ts';
import {
  FAST_MODE_MAX_IMAGES,
  type Recipe,
  type ResolvedBackbone,
  type ResolvedConfig,
  type RunConfig,
} from '../../src-shared/run-config.ts';
import { assignWeights } from '../engine/backbones/load-weights.ts';
import {
  backboneName,
  findBackboneEntry,
  linkBackboneInto,
  readRunBackboneWeights,
  resolveBackboneFile,
  type BackboneEntry,
} from './backbone-source.ts';

/**
 * Fast: a linear head on frozen features (engine/train/head-fit.ts). Features are standardised, so one
 * learning rate suits every backbone; epochs are cheap (a pass over cached features), so the auto rule may raise them.
 */
export const FAST_RECIPE: Recipe = {
  source: 'Kiln fast transfer: a linear head on frozen, standardised backbone features (one-cycle SGD)',
  opt: { epochs: 30, batchSize: 32, lrMax: 0.1, weightDecay: 5e-4, labelSmoothing: 0.1 },
};

/**
 * Full fine-tune, after fastai's `fine_tune` and the transfer recipes of Kornblith et al. (2019): a few epochs,
 * a small peak rate, the pretrained body at a tenth of the head's. Epochs are not raised for small datasets:
 * a 224 px backbone costs seconds an image on a CPU, and pretrained weights need few passes.
 */
export const FINE_TUNE_RECIPE: Recipe = {
  source: 'Kiln fine-tune of a pretrained backbone: one-cycle SGD, the body at 1/10 of the head’s learning rate',
  opt: { epochs: 8, batchSize: 32, lrMax: 0.02, weightDecay: 5e-4, labelSmoothing: 0.1, warmupFraction: 0.3 },
};
export const BODY_LR_SCALE = 0.1;

export interface BackbonePlan {
  entry: BackboneEntry;
  mode: 'fast' | 'fine-tune';
  /** The request with the backbone's architecture. */
  config: RunConfig;
  recipe: Recipe;
  raiseEpochs: boolean;
  /** What the resolved config records (the weights' checksum is read when the run is created). */
  resolved(): Promise<ResolvedBackbone>;
  /** Puts the weights into the new run's folder (a hard link to the store's copy). */
  prepare(runDir: string): Promise<void>;
}

/** How a request that starts from `imagenet:NAME` trains; null when it starts from a run or from scratch. */
export function planBackbone(home: string, config: RunConfig, trainCount: number): BackbonePlan | null {
  const name = backboneName(config.initFrom);
  if (name === null) return null;
  const entry = findBackboneEntry(name);
  const asked = config.transfer ?? 'auto';
  const mode = asked === 'auto' ? (trainCount < FAST_MODE_MAX_IMAGES ? 'fast' : 'fine-tune') : asked;
  if (mode === 'fast' && config.opt.freezeEpochs > 0) {
    throw new UsageError('opt.freezeEpochs: the fast mode keeps the whole backbone frozen; frozen epochs are for transfer "fine-tune"');
  }
  return {
    entry,
    mode,
    config: { ...config, net: { arch: entry.spec } },
    recipe: mode === 'fast' ? FAST_RECIPE : FINE_TUNE_RECIPE,
    raiseEpochs: mode === 'fast',
    async resolved() {
      const weights = await resolveBackboneFile(home, name);
      return {
        name,
        mode,
        mean: entry.mean,
        std: entry.std,
        bodyLrScale: mode === 'fast' ? 0 : BODY_LR_SCALE,
        sha256: weights.sha256,
        verified: weights.verified,
      };
    },
    async prepare(runDir) {
      await linkBackboneInto(home, name, runDir);
    },
  };
}

/**
 * Give a freshly built model the backbone's weights and BN statistics from the copy in the run's folder (linked
 * when the run was created), all but the head: a new class list keeps its seeded values.
 */
export async function applyBackboneWeights(runDir: string, backbone: ResolvedBackbone, model: Model): Promise<void> {
  const skip = new Set(headParamNames(model.graph));
  assignWeights(model, await readRunBackboneWeights(runDir, backbone.name, model.graph, skip), skip);
}

/** A pretrained backbone sees its own normalisation (ImageNet's), not the dataset's: training, evaluation and export alike. */
export function withRunNormalisation(dataset: LoadedDataset, config: Pick<ResolvedConfig, 'backbone'>): LoadedDataset {
  const b = config.backbone;
  return b ? { ...dataset, mean: b.mean, std: b.std } : dataset;
}

/** The parameters a fine-tune trains slower: all but the head's. */
export function bodyLrScales(
  graph: Graph,
  params: { name: string }[],
  backbone: ResolvedBackbone | undefined,
): Map<string, number> | undefined {
  if (!backbone || backbone.mode !== 'fine-tune' || backbone.bodyLrScale === 1) return undefined;
  const head = new Set(headParamNames(graph));
  return new Map(params.filter((p) => !head.has(p.name)).map((p) => [p.name, backbone.bodyLrScale]));
}

/** One line for `kiln train`: what the run starts from and how it uses it. */
export function describeBackboneStart(
  b: ResolvedBackbone,
  record: { dataset: { classes: string[]; train: number }; resolved?: { config?: { data: unknown } } },
  freezeEpochs: number,
): string {
  const how =
    b.mode === 'fast'
      ? `fast: backbone frozen, features computed once per image (cached), a new head for ${record.dataset.classes.length} classes`
      : `fine-tune: everything trains, the backbone at ${b.bodyLrScale}× the head's learning rate${freezeEpochs > 0 ? `, frozen for ${freezeEpochs} epoch(s)` : ''}`;
  return `starting from imagenet:${b.name} (${how})${b.verified ? '' : '; weights unverified (added with --unverified)'}`;
}
