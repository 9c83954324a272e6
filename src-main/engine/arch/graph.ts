import type { ArchSpec, ResNet9Spec, WideResNetSpec } from '../../../src-shared/arch-spec.ts';
import type { ArchSummary, Shape } from '../../../src-shared/arch-types.ts';
import { layerOf, type GraphNode } from '../layers/registry.ts';
import { GraphBuilder } from './graph-builder.ts';
import { buildMobileNetV2, buildResNet } from './imagenet-archs.ts';

/**
 * The one intermediate form every consumer reads: the trainer's forward pass, the layer table and parameter
 * count, and the exports all walk these nodes. Each node type's behaviour lives in its layer module
 * (engine/layers/, listed in engine/layers/registry.ts).
 */
export type { GraphNode };

export interface LayerInfo {
  name: string;
  op: GraphNode['op'];
  outputShape: Shape;
  /** Trainable parameters. */
  params: number;
  /** Non-trainable (BN running mean and variance). */
  nonTrainable: number;
  /** Multiply-adds count twice (one multiply, one add), per image. */
  flops: number;
}

export interface Graph {
  nodes: GraphNode[];
  output: string;
  inputShape: Shape;
  numClasses: number;
  layers: LayerInfo[];
}

function buildWideResNet(spec: WideResNetSpec, numClasses: number, b: GraphBuilder): string {
  let x = b.conv('stem', 'input', spec.stemChannels);
  let channels = spec.stemChannels;
  for (let g = 0; g < spec.groups; g++) {
    const width = spec.stemChannels * spec.widthFactor * 2 ** g;
    for (let i = 0; i < spec.blocksPerGroup; i++) {
      const p = `group${g + 1}/block${i + 1}`;
      const stride = g > 0 && i === 0 ? 2 : 1;
      // Pre-activation block as in fast.ai's wrn: the shortcut, when there is one, reads the activated input.
      const act = b.add({ op: 'relu', name: `${p}/relu1`, input: b.add({ op: 'bn', name: `${p}/bn1`, input: x }) });
      const shortcut =
        channels !== width || stride !== 1
          ? b.add({ op: 'conv', name: `${p}/shortcut`, input: act, filters: width, kernel: 1, stride })
          : x;
      let h = b.add({ op: 'conv', name: `${p}/conv1`, input: act, filters: width, kernel: 3, stride });
      if (spec.dropout > 0) h = b.add({ op: 'dropout', name: `${p}/dropout`, input: h, rate: spec.dropout });
      h = b.add({ op: 'relu', name: `${p}/relu2`, input: b.add({ op: 'bn', name: `${p}/bn2`, input: h }) });
      h = b.add({ op: 'conv', name: `${p}/conv2`, input: h, filters: width, kernel: 3, stride: 1 });
      x = b.add({ op: 'add', name: `${p}/add`, inputs: [h, shortcut] });
      channels = width;
    }
  }
  x = b.relu('head', b.bn('head', x));
  x = b.add({ op: 'global-avg-pool', name: 'head/pool', input: x });
  return b.add({ op: 'dense', name: 'head/dense', input: x, units: numClasses, useBias: true });
}

function buildResNet9(spec: ResNet9Spec, numClasses: number, b: GraphBuilder): string {
  const conv = (prefix: string, input: string, filters: number) =>
    spec.conv === 'separable'
      ? b.add({ op: 'sepconv', name: `${prefix}/sepconv`, input, filters, kernel: 3 })
      : b.conv(prefix, input, filters);
  const convBn = (prefix: string, input: string, filters: number) => b.relu(prefix, b.bn(prefix, conv(prefix, input, filters)));
  const residual = (prefix: string, input: string, filters: number) => {
    const h = convBn(`${prefix}/res2`, convBn(`${prefix}/res1`, input, filters), filters);
    return b.add({ op: 'add', name: `${prefix}/add`, inputs: [input, h] });
  };
  const [w0, w1, w2, w3] = spec.widths;
  let x = convBn('prep', 'input', w0);
  x = b.add({ op: 'maxpool', name: 'layer1/pool', input: convBn('layer1', x, w1), size: 2 });
  x = residual('layer1', x, w1);
  x = b.add({ op: 'maxpool', name: 'layer2/pool', input: convBn('layer2', x, w2), size: 2 });
  x = b.add({ op: 'maxpool', name: 'layer3/pool', input: convBn('layer3', x, w3), size: 2 });
  x = residual('layer3', x, w3);
  x = b.add({ op: 'global-max-pool', name: 'head/pool', input: x });
  x = b.add({ op: 'dense', name: 'head/dense', input: x, units: numClasses, useBias: false });
  return b.add({ op: 'scale', name: 'head/scale', input: x, factor: spec.outputScale });
}

function infer(node: GraphNode, shapes: Map<string, Shape>, inputShape: Shape): LayerInfo {
  const inShape = (name: string): Shape => {
    const s = shapes.get(name);
    if (!s) throw new Error(`graph: node ${node.name} reads unknown node ${name}`);
    return s;
  };
  const r = layerOf(node).infer(node, inShape, inputShape);
  return {
    name: node.name,
    op: node.op,
    outputShape: r.outputShape,
    params: r.params ?? 0,
    nonTrainable: r.nonTrainable ?? 0,
    flops: r.flops ?? 0,
  };
}

/** Turn a spec into the graph for images of the given size and class count. */
export function buildGraph(spec: ArchSpec, opts: { imageSize: number; numClasses: number }): Graph {
  const b = new GraphBuilder();
  const output =
    spec.kind === 'wide-resnet'
      ? buildWideResNet(spec, opts.numClasses, b)
      : spec.kind === 'resnet9'
        ? buildResNet9(spec, opts.numClasses, b)
        : spec.kind === 'resnet'
          ? buildResNet(spec, opts.numClasses, b)
          : buildMobileNetV2(spec, opts.numClasses, b);
  const inputShape = [opts.imageSize, opts.imageSize, 3];
  const shapes = new Map<string, Shape>();
  const layers = b.nodes.map((node) => {
    const layer = infer(node, shapes, inputShape);
    shapes.set(node.name, layer.outputShape);
    return layer;
  });
  return { nodes: b.nodes, output, inputShape, numClasses: opts.numClasses, layers };
}

export function summarize(graph: Graph): ArchSummary {
  const sum = (f: (l: LayerInfo) => number) => graph.layers.reduce((a, l) => a + f(l), 0);
  return {
    trainableParams: sum((l) => l.params),
    params: sum((l) => l.params + l.nonTrainable),
    flopsPerImage: sum((l) => l.flops),
    layers: graph.layers.map((l) => ({ name: l.name, outputShape: l.outputShape, params: l.params + l.nonTrainable })),
  };
}
