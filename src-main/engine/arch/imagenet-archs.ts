import type { MobileNetV2Spec, ResNetSpec } from '../../../src-shared/arch-spec.ts';
import type { GraphBuilder } from './graph-builder.ts';

/**
 * The ImageNet backbones, built node for node as torchvision builds them, and named after torchvision's modules
 * (`layer1/0/conv1` is `layer1.0.conv1`): the PyTorch → Kiln weight mapping (engine/backbones/torch-weights.ts)
 * reads a checkpoint's tensor names off these node names. PyTorch's symmetric padding (k−1)/2 on every conv and BN
 * epsilon 1e-5, so pretrained weights give PyTorch's logits.
 */

/** The published networks (torchvision's resnet18, resnet50, mobilenet_v2). */
export const RESNET18_SPEC: ResNetSpec = {
  kind: 'resnet',
  name: 'resnet18',
  block: 'basic',
  blocks: [2, 2, 2, 2],
  widths: [64, 128, 256, 512],
  stemChannels: 64,
};
export const RESNET50_SPEC: ResNetSpec = {
  kind: 'resnet',
  name: 'resnet50',
  block: 'bottleneck',
  blocks: [3, 4, 6, 3],
  widths: [64, 128, 256, 512],
  stemChannels: 64,
};
export const MOBILENETV2_SPEC: MobileNetV2Spec = {
  kind: 'mobilenetv2',
  name: 'mobilenetv2',
  widthMultiplier: 1,
  lastChannels: 1280,
  dropout: 0.2,
};

const conv = (b: GraphBuilder, name: string, input: string, filters: number, kernel: number, stride: number) =>
  b.add({ op: 'conv', name, input, filters, kernel, stride, pad: (kernel - 1) >> 1 });

export function buildResNet(spec: ResNetSpec, numClasses: number, b: GraphBuilder): string {
  const expansion = spec.block === 'bottleneck' ? 4 : 1;
  let x = conv(b, 'conv1', 'input', spec.stemChannels, 7, 2);
  x = b.add({ op: 'relu', name: 'relu', input: b.add({ op: 'bn', name: 'bn1', input: x }) });
  x = b.add({ op: 'maxpool', name: 'maxpool', input: x, size: 3, stride: 2, pad: 1 });
  let channels = spec.stemChannels;
  for (let s = 0; s < 4; s++) {
    const width = spec.widths[s]!;
    for (let i = 0; i < spec.blocks[s]!; i++) {
      const p = `layer${s + 1}/${i}`;
      const stride = s > 0 && i === 0 ? 2 : 1;
      const out = width * expansion;
      let h: string;
      if (spec.block === 'basic') {
        h = b.add({
          op: 'relu',
          name: `${p}/relu1`,
          input: b.add({ op: 'bn', name: `${p}/bn1`, input: conv(b, `${p}/conv1`, x, width, 3, stride) }),
        });
        h = b.add({ op: 'bn', name: `${p}/bn2`, input: conv(b, `${p}/conv2`, h, width, 3, 1) });
      } else {
        h = b.add({
          op: 'relu',
          name: `${p}/relu1`,
          input: b.add({ op: 'bn', name: `${p}/bn1`, input: conv(b, `${p}/conv1`, x, width, 1, 1) }),
        });
        h = b.add({
          op: 'relu',
          name: `${p}/relu2`,
          input: b.add({ op: 'bn', name: `${p}/bn2`, input: conv(b, `${p}/conv2`, h, width, 3, stride) }),
        });
        h = b.add({ op: 'bn', name: `${p}/bn3`, input: conv(b, `${p}/conv3`, h, out, 1, 1) });
      }
      const shortcut =
        stride !== 1 || channels !== out
          ? b.add({ op: 'bn', name: `${p}/downsample/1`, input: conv(b, `${p}/downsample/0`, x, out, 1, stride) })
          : x;
      x = b.add({ op: 'relu', name: `${p}/relu`, input: b.add({ op: 'add', name: `${p}/add`, inputs: [h, shortcut] }) });
      channels = out;
    }
  }
  x = b.add({ op: 'global-avg-pool', name: 'avgpool', input: x });
  return b.add({ op: 'dense', name: 'fc', input: x, units: numClasses, useBias: true });
}

/** torchvision's _make_divisible: the nearest multiple of 8, never more than 10% below v. */
export function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

/** Expansion t, output channels c, repeats n, first stride s, from the paper's Table 2. */
const INVERTED_RESIDUALS: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export function buildMobileNetV2(spec: MobileNetV2Spec, numClasses: number, b: GraphBuilder): string {
  const convBnRelu6 = (prefix: string, input: string, filters: number, kernel: number, stride: number) => {
    const c = conv(b, `${prefix}/0`, input, filters, kernel, stride);
    return b.add({ op: 'relu6', name: `${prefix}/2`, input: b.add({ op: 'bn', name: `${prefix}/1`, input: c }) });
  };
  const dwBnRelu6 = (prefix: string, input: string, stride: number) => {
    const c = b.add({ op: 'dwconv', name: `${prefix}/0`, input, kernel: 3, stride, pad: 1 });
    return b.add({ op: 'relu6', name: `${prefix}/2`, input: b.add({ op: 'bn', name: `${prefix}/1`, input: c }) });
  };
  let channels = makeDivisible(32 * spec.widthMultiplier);
  let x = convBnRelu6('features/0', 'input', channels, 3, 2);
  let index = 1;
  for (const [t, c, n, s] of INVERTED_RESIDUALS) {
    const out = makeDivisible(c * spec.widthMultiplier);
    for (let i = 0; i < n; i++, index++) {
      const p = `features/${index}/conv`;
      const stride = i === 0 ? s : 1;
      let h = x;
      let j = 0;
      if (t !== 1) h = convBnRelu6(`${p}/${j++}`, h, Math.round(channels * t), 1, 1);
      h = dwBnRelu6(`${p}/${j++}`, h, stride);
      h = b.add({ op: 'bn', name: `${p}/${j + 1}`, input: conv(b, `${p}/${j}`, h, out, 1, 1) });
      x = stride === 1 && channels === out ? b.add({ op: 'add', name: `features/${index}/add`, inputs: [x, h] }) : h;
      channels = out;
    }
  }
  x = convBnRelu6(`features/${index}`, x, spec.lastChannels, 1, 1);
  x = b.add({ op: 'global-avg-pool', name: 'avgpool', input: x });
  if (spec.dropout > 0) x = b.add({ op: 'dropout', name: 'classifier/0', input: x, rate: spec.dropout });
  return b.add({ op: 'dense', name: 'classifier/1', input: x, units: numClasses, useBias: true });
}
