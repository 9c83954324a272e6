import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { buildGraph, type Graph } from '../arch/graph.ts';
import { MOBILENETV2_SPEC, RESNET18_SPEC, RESNET50_SPEC } from '../arch/imagenet-archs.ts';

/**
 * The ImageNet backbones Kiln knows: each one's architecture (a spec, as for every other net), the pretrained
 * weights it fetches (timm's safetensors on Hugging Face, pinned by revision and SHA-256), the preprocessing those
 * weights expect (timm's pretrained_cfg from the same revision's config.json), and how the file's tensor names map
 * to the spec's (torchvision's names; timm's MobileNetV2 uses its own).
 *
 * Pins: revision ids and SHA-256s were read from the Hugging Face pages of each repository (the file's "Git LFS
 * details" at that revision). The exact byte size is not published there, only a rounded size (e.g. "46.8 MB"),
 * so `approxBytes` is that rounded figure: the SHA-256 is what verifies the file, the size only caps the download.
 */

export type BackboneName = 'resnet18' | 'resnet50' | 'mobilenetv2';

export interface BackbonePreprocess {
  /** Side of the square input, pixels. */
  inputSize: number;
  /** timm's eval transform: resize the short side to floor(inputSize / cropPct), then centre-crop inputSize. */
  cropPct: number;
  interpolation: 'bilinear' | 'bicubic';
  mean: [number, number, number];
  std: [number, number, number];
}

export interface BackboneWeights {
  /** Hugging Face repository. */
  repo: string;
  /** Git commit of that repository the file is pinned to. */
  revision: string;
  file: 'model.safetensors';
  url: string;
  sha256: string;
  /** The rounded size Hugging Face shows; not exact (see above). */
  approxBytes: number;
  licence: string;
}

export interface BackboneInfo {
  name: BackboneName;
  title: string;
  spec: ArchSpec;
  numClasses: number;
  preprocess: BackbonePreprocess;
  weights: BackboneWeights;
  /** A tensor name of the weights file → torchvision's name (the spec's node names); absent: the same. */
  torchName?: (name: string) => string;
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** What the person is told before the first download of pretrained weights. */
export const LICENCE_NOTE =
  'The pretrained weights are published by timm (Ross Wightman) on Hugging Face; their model cards give the Apache-2.0 ' +
  'licence. They were trained on ImageNet-1k, whose terms of access allow non-commercial research and educational use ' +
  'only, and timm notes that those terms may apply to weights trained on it: check before commercial use.';

const hf = (repo: string, revision: string) => `https://huggingface.co/${repo}/resolve/${revision}/model.safetensors`;

/** timm's MobileNetV2 stages (blocks.<stage>.<i>): the repeats of the paper's table, flattened by torchvision into features.1…17. */
const MOBILENETV2_STAGES = [1, 2, 3, 4, 3, 3, 1];

/**
 * timm's mobilenetv2_100 tensor names → torchvision's mobilenet_v2 names (the same network: a 3×3/2 stem, the 17
 * inverted residuals, a 1×1 head conv, a linear classifier). Names already in torchvision's form pass unchanged.
 */
export function timmMobileNetV2Name(name: string): string {
  const top: Record<string, string> = {
    conv_stem: 'features.0.0',
    bn1: 'features.0.1',
    conv_head: 'features.18.0',
    bn2: 'features.18.1',
    classifier: 'classifier.1',
  };
  const parts = name.split('.');
  if (parts.length === 2 && top[parts[0]!]) return `${top[parts[0]!]}.${parts[1]}`;
  const m = /^blocks\.(\d+)\.(\d+)\.(\w+)\.(\w+)$/.exec(name);
  if (!m) return name;
  const [stage, i, module, tensor] = [Number(m[1]), Number(m[2]), m[3]!, m[4]!];
  const index = 1 + MOBILENETV2_STAGES.slice(0, stage).reduce((a, n) => a + n, 0) + i;
  const table: Record<string, string> =
    stage === 0
      ? { conv_dw: 'conv.0.0', bn1: 'conv.0.1', conv_pw: 'conv.1', bn2: 'conv.2' }
      : { conv_pw: 'conv.0.0', bn1: 'conv.0.1', conv_dw: 'conv.1.0', bn2: 'conv.1.1', conv_pwl: 'conv.2', bn3: 'conv.3' };
  const mapped = table[module];
  return mapped ? `features.${index}.${mapped}.${tensor}` : name;
}

export const BACKBONES: readonly BackboneInfo[] = [
  {
    name: 'resnet18',
    title: 'ResNet-18 (timm resnet18.a1_in1k)',
    spec: RESNET18_SPEC,
    numClasses: 1000,
    // config.json at b9c5426: input 224, bicubic, crop_pct 0.95, ImageNet mean/std.
    preprocess: { inputSize: 224, cropPct: 0.95, interpolation: 'bicubic', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    weights: {
      repo: 'timm/resnet18.a1_in1k',
      revision: 'b9c542640ca04a6acab6e1ecff124a2d6ef1951d',
      file: 'model.safetensors',
      url: hf('timm/resnet18.a1_in1k', 'b9c542640ca04a6acab6e1ecff124a2d6ef1951d'),
      sha256: '80c49dee3da4822c009c5a7fe591e9223c5a2cfcf95a4067ca4dfb5a7b89c612',
      approxBytes: 46_800_000,
      licence: 'Apache-2.0 (model card); trained on ImageNet-1k',
    },
  },
  {
    name: 'resnet50',
    title: 'ResNet-50 (timm resnet50.a1_in1k)',
    spec: RESNET50_SPEC,
    numClasses: 1000,
    // config.json of resnet50.a1_in1k: input 224, bicubic, crop_pct 0.95, ImageNet mean/std.
    preprocess: { inputSize: 224, cropPct: 0.95, interpolation: 'bicubic', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    weights: {
      repo: 'timm/resnet50.a1_in1k',
      revision: '5d9e13b8fdab4d9718bcf2c8f5c3af01878367e8',
      file: 'model.safetensors',
      url: hf('timm/resnet50.a1_in1k', '5d9e13b8fdab4d9718bcf2c8f5c3af01878367e8'),
      sha256: '773525d5821de224f8f30c33377b7a795d7863e08522698200d3217d3f2a41bb',
      approxBytes: 102_000_000,
      licence: 'Apache-2.0 (model card); trained on ImageNet-1k',
    },
  },
  {
    name: 'mobilenetv2',
    title: 'MobileNetV2 1.0 (timm mobilenetv2_100.ra_in1k)',
    spec: MOBILENETV2_SPEC,
    numClasses: 1000,
    // config.json at f3ff81b: input 224, bicubic, crop_pct 0.875, ImageNet mean/std.
    preprocess: { inputSize: 224, cropPct: 0.875, interpolation: 'bicubic', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    weights: {
      repo: 'timm/mobilenetv2_100.ra_in1k',
      revision: 'f3ff81ba89de0bc46b546568ebeab2edef6b9d49',
      file: 'model.safetensors',
      url: hf('timm/mobilenetv2_100.ra_in1k', 'f3ff81ba89de0bc46b546568ebeab2edef6b9d49'),
      sha256: '55ea4fb3a96010b933710ebf44fc965b070d5cd054d3f35e44f2d1320b4a714e',
      approxBytes: 14_200_000,
      licence: 'Apache-2.0 (model card); trained on ImageNet-1k',
    },
    torchName: timmMobileNetV2Name,
  },
];

export const BACKBONE_NAMES = BACKBONES.map((b) => b.name);

export function findBackbone(name: string): BackboneInfo | undefined {
  return BACKBONES.find((b) => b.name === name);
}

/** `imagenet:resnet18` → the backbone's name; null for anything else. */
export function parseBackboneRef(ref: string): string | null {
  const m = /^imagenet:(.+)$/.exec(ref);
  return m ? m[1]! : null;
}

/** The backbone's graph: its own 1000-class ImageNet head and input size unless told otherwise. */
export function backboneGraph(backbone: BackboneInfo, opts: { imageSize?: number; numClasses?: number } = {}): Graph {
  return buildGraph(backbone.spec, {
    imageSize: opts.imageSize ?? backbone.preprocess.inputSize,
    numClasses: opts.numClasses ?? backbone.numClasses,
  });
}
