import { DataError } from '../../common/errors.ts';
import type { Graph } from '../arch/graph.ts';
import type { NamedWeight } from '../layers/onnx-emit.ts';
import type { SafetensorsFile } from './safetensors.ts';

/**
 * PyTorch's tensor layouts → Kiln's. A backbone's graph nodes carry torchvision's module paths as names
 * (`layer1/0/conv1` ↔ `layer1.0.conv1`), so each Kiln variable knows the PyTorch tensor it comes from:
 * - conv weight [out, in, kh, kw] (OIHW) → kernel [kh, kw, in, out] (HWIO);
 * - depthwise conv weight [C, 1, kh, kw] → kernel [kh, kw, C, 1];
 * - linear weight [out, in] → kernel [in, out] (transposed), bias as is;
 * - BN weight/bias/running_mean/running_var → gamma/beta/moving_mean/moving_variance (PyTorch's epsilon, 1e-5, is
 *   the BN nodes' default); num_batches_tracked is training bookkeeping and is ignored.
 */

export type TorchLayout = 'oihw' | 'depthwise' | 'linear' | 'vector';

export interface TorchTensorRef {
  /** torchvision's name, e.g. `layer1.0.conv1.weight`. */
  torchName: string;
  /** Kiln's variable name, e.g. `layer1/0/conv1/kernel`. */
  kilnName: string;
  layout: TorchLayout;
  torchShape: number[];
  kilnShape: number[];
}

/** Ignored wherever they appear: BN's step counter. */
const IGNORED = /(^|\.)num_batches_tracked$/;

/** Every PyTorch tensor the graph's variables come from. Throws for a node with no PyTorch form. */
export function torchTensorsOf(graph: Graph): TorchTensorRef[] {
  const shapes = new Map(graph.layers.map((l) => [l.name, l.outputShape]));
  const channelsOf = (name: string) => shapes.get(name)!.at(-1)!;
  const refs: TorchTensorRef[] = [];
  const add = (node: string, torch: string, kiln: string, layout: TorchLayout, torchShape: number[], kilnShape: number[]) =>
    refs.push({ torchName: `${node.replace(/\//g, '.')}.${torch}`, kilnName: `${node}/${kiln}`, layout, torchShape, kilnShape });
  for (const node of graph.nodes) {
    switch (node.op) {
      case 'conv': {
        const c = channelsOf(node.input);
        const k = node.kernel;
        add(node.name, 'weight', 'kernel', 'oihw', [node.filters, c, k, k], [k, k, c, node.filters]);
        break;
      }
      case 'dwconv': {
        const c = channelsOf(node.input);
        add(node.name, 'weight', 'kernel', 'depthwise', [c, 1, node.kernel, node.kernel], [node.kernel, node.kernel, c, 1]);
        break;
      }
      case 'dense': {
        const c = channelsOf(node.input);
        add(node.name, 'weight', 'kernel', 'linear', [node.units, c], [c, node.units]);
        if (node.useBias) add(node.name, 'bias', 'bias', 'vector', [node.units], [node.units]);
        break;
      }
      case 'bn': {
        const c = channelsOf(node.input);
        for (const [t, k] of [
          ['weight', 'gamma'],
          ['bias', 'beta'],
          ['running_mean', 'moving_mean'],
          ['running_var', 'moving_variance'],
        ] as const)
          add(node.name, t, k, 'vector', [c], [c]);
        break;
      }
      case 'input':
      case 'relu':
      case 'relu6':
      case 'add':
      case 'maxpool':
      case 'global-avg-pool':
      case 'global-max-pool':
      case 'dropout':
        break;
      default:
        throw new Error(`backbone: ${node.op} (${node.name}) has no PyTorch weight mapping`);
    }
  }
  return refs;
}

/** Kiln's layout of one PyTorch tensor's values. */
export function toKilnLayout(values: Float32Array, ref: TorchTensorRef): Float32Array {
  const out = new Float32Array(values.length);
  switch (ref.layout) {
    case 'vector':
      return values;
    case 'oihw': {
      const [co, ci, kh, kw] = ref.torchShape as [number, number, number, number];
      for (let o = 0; o < co; o++)
        for (let i = 0; i < ci; i++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++) out[((y * kw + x) * ci + i) * co + o] = values[((o * ci + i) * kh + y) * kw + x]!;
      return out;
    }
    case 'depthwise': {
      const [c, , kh, kw] = ref.torchShape as [number, number, number, number];
      for (let ch = 0; ch < c; ch++)
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[(y * kw + x) * c + ch] = values[(ch * kh + y) * kw + x]!;
      return out;
    }
    case 'linear': {
      const [units, c] = ref.torchShape as [number, number];
      for (let u = 0; u < units; u++) for (let i = 0; i < c; i++) out[i * units + u] = values[u * c + i]!;
      return out;
    }
  }
}

export interface TorchMappingOptions {
  /** A checkpoint's own names → torchvision's (timm's MobileNetV2 names its modules differently). */
  rename?: (name: string) => string;
  /** Kiln variables to leave out (e.g. a head replaced for new classes): not required, and their tensors are not unexpected. */
  skip?: (kilnName: string) => boolean;
}

/**
 * How a checkpoint's tensors line up with the graph: the problems (missing tensors, wrong shapes, tensors the
 * architecture has no place for), each naming the tensor; empty when every variable has its tensor.
 */
export function checkTorchTensors(graph: Graph, file: SafetensorsFile, opts: TorchMappingOptions = {}): string[] {
  const { byTorch, problems } = indexFile(file, opts);
  const all = torchTensorsOf(graph);
  const wanted = new Set(all.map((r) => r.torchName));
  for (const ref of all.filter((r) => !opts.skip?.(r.kilnName))) {
    const entry = byTorch.get(ref.torchName);
    if (!entry) problems.push(`missing tensor ${ref.torchName} (for ${ref.kilnName}, shape [${ref.torchShape}])`);
    else if (entry.shape.join() !== ref.torchShape.join())
      problems.push(`tensor ${entry.name} has shape [${entry.shape}], the architecture expects [${ref.torchShape}]`);
  }
  for (const [torchName, entry] of byTorch)
    if (!wanted.has(torchName))
      problems.push(`unexpected tensor ${entry.name} (shape [${entry.shape}]): the architecture has no place for it`);
  return problems;
}

/**
 * The graph's variables (Kiln names and layouts) from a checkpoint in PyTorch layout. Throws a DataError naming the
 * file and listing the first problems when the checkpoint does not fit the architecture.
 */
export function mapTorchWeights(graph: Graph, file: SafetensorsFile, opts: TorchMappingOptions = {}): Map<string, NamedWeight> {
  const problems = checkTorchTensors(graph, file, opts);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ');
    throw new DataError(
      `${file.file}: does not fit the architecture: ${shown}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
    );
  }
  const { byTorch } = indexFile(file, opts);
  const out = new Map<string, NamedWeight>();
  for (const ref of torchTensorsOf(graph).filter((r) => !opts.skip?.(r.kilnName))) {
    out.set(ref.kilnName, { data: toKilnLayout(file.float32(byTorch.get(ref.torchName)!.name), ref), shape: ref.kilnShape });
  }
  return out;
}

function indexFile(file: SafetensorsFile, opts: TorchMappingOptions) {
  const byTorch = new Map<string, { name: string; shape: number[] }>();
  const problems: string[] = [];
  for (const name of file.names) {
    if (IGNORED.test(name)) continue;
    const torchName = opts.rename ? opts.rename(name) : name;
    if (byTorch.has(torchName)) problems.push(`tensors ${byTorch.get(torchName)!.name} and ${name} both map to ${torchName}`);
    byTorch.set(torchName, { name, shape: file.entry(name).shape });
  }
  return { byTorch, problems };
}
