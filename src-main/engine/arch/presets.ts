import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import type { Recipe } from '../../../src-shared/run-config.ts';
import { MOBILENETV2_SPEC, RESNET18_SPEC, RESNET50_SPEC } from './imagenet-archs.ts';

export interface Preset {
  id: string;
  title: string;
  spec: ArchSpec;
  recipe: Recipe;
  /** An ImageNet backbone's architecture (engine/backbones/registry.ts has its pretrained weights). */
  imagenet?: boolean;
}

// David Page, "How to train your ResNet" parts 1–4 (2018): ResNet-9, 24 epochs at batch 512,
// piecewise-linear LR 0 → 0.4 at epoch 5 → 0 at epoch 24 (per-example LR 0.4/512 on a summed loss,
// i.e. 0.4 on a mean loss), Nesterov momentum 0.9, weight decay 5e-4, flip + crop + 8×8 cutout: 94.08%.
const PAGE_RECIPE: Recipe = {
  source: 'D. Page, How to train your ResNet (2018), 24-epoch ResNet-9 baseline',
  opt: {
    epochs: 24,
    batchSize: 512,
    lrMax: 0.4,
    weightDecay: 5e-4,
    warmupFraction: 5 / 24,
    startDiv: 1e4,
    finalDiv: 1e4,
    shape: 'linear',
    momentumMax: 0.9,
    momentumMin: 0.9,
    labelSmoothing: 0,
  },
  aug: { cutout: 8 },
};

// fast.ai's DAWNBench CIFAR-10 notebook (courses/dl2/cifar10-dawn, April 2018): wrn_22, batch 512,
// learn.fit(1.5, 1, wds=1e-4, cycle_len=30, use_clr_beta=(20, 20, 0.95, 0.85)): LR rises from 1.5/20
// to 1.5 over 40% of the steps, falls back over the next 40%, then anneals to 1.5/2000 over the last 20%;
// momentum 0.95 → 0.85 → 0.95; flip + crop; 94% with TTA. Our one-cycle folds the last two phases into one ramp.
const FASTAI_WRN_RECIPE: Recipe = {
  source: 'fast.ai DAWNBench CIFAR-10 entry (2018), wrn_22 with use_clr_beta',
  opt: {
    epochs: 30,
    batchSize: 512,
    lrMax: 1.5,
    weightDecay: 1e-4,
    warmupFraction: 0.4,
    startDiv: 20,
    finalDiv: 2000,
    shape: 'linear',
    momentumMax: 0.95,
    momentumMin: 0.85,
    labelSmoothing: 0,
  },
  aug: { cutout: 0 },
};

// torchvision's ImageNet classification references (references/classification): ResNets with SGD at 0.1, momentum
// 0.9, weight decay 1e-4, batch 256 (32 × 8 GPUs) for 90 epochs; MobileNetV2 at 0.045, weight decay 4e-5, 300 epochs.
// Their step and exponential decays become Kiln's one-cycle with a short warm-up and a cosine fall.
const imagenetRecipe = (source: string, epochs: number, lrMax: number, weightDecay: number): Recipe => ({
  source: `torchvision ImageNet reference, ${source}; one-cycle (5% warm-up, cosine) in place of its step decay`,
  opt: {
    epochs,
    batchSize: 256,
    lrMax,
    weightDecay,
    warmupFraction: 0.05,
    startDiv: 25,
    finalDiv: 1e4,
    shape: 'cosine',
    momentumMax: 0.9,
    momentumMin: 0.9,
    labelSmoothing: 0,
  },
  aug: { cutout: 0 },
});

export const PRESETS: readonly Preset[] = [
  {
    id: 'wrn-22',
    title: 'WideResNet-22 (k=6), fast.ai DAWNBench',
    spec: { kind: 'wide-resnet', name: 'wrn-22', groups: 3, blocksPerGroup: 3, widthFactor: 6, stemChannels: 16, dropout: 0 },
    recipe: FASTAI_WRN_RECIPE,
  },
  {
    id: 'resnet-9',
    title: 'ResNet-9, David Page DAWNBench',
    spec: { kind: 'resnet9', name: 'resnet-9', widths: [64, 128, 256, 512], outputScale: 0.125 },
    recipe: PAGE_RECIPE,
  },
  {
    // No published run of its own: Page's recipe carries over, and is a sane start on a CPU.
    id: 'resnet-9-s',
    title: 'ResNet-9 at quarter width, for CPUs',
    spec: { kind: 'resnet9', name: 'resnet-9-s', widths: [16, 32, 64, 128], outputScale: 0.125 },
    recipe: { ...PAGE_RECIPE, source: `${PAGE_RECIPE.source}, carried over to quarter width` },
  },
  {
    id: 'resnet18',
    title: 'ResNet-18 (ImageNet architecture; pretrained weights: kiln backbone get resnet18)',
    spec: RESNET18_SPEC,
    recipe: imagenetRecipe('ResNet', 90, 0.1, 1e-4),
    imagenet: true,
  },
  {
    id: 'resnet50',
    title: 'ResNet-50 (ImageNet architecture; pretrained weights: kiln backbone get resnet50)',
    spec: RESNET50_SPEC,
    recipe: imagenetRecipe('ResNet', 90, 0.1, 1e-4),
    imagenet: true,
  },
  {
    id: 'mobilenetv2',
    title: 'MobileNetV2 (ImageNet architecture; pretrained weights: kiln backbone get mobilenetv2)',
    spec: MOBILENETV2_SPEC,
    recipe: imagenetRecipe('MobileNetV2', 300, 0.045, 4e-5),
    imagenet: true,
  },
];

export function findPreset(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
