import type { AttrValue, OnnxGraphWriter } from '../layers/onnx-emit.ts';
import { AttributeType, DataType, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-proto.ts';

function toAttribute(name: string, v: AttrValue): OnnxAttribute {
  if ('int' in v) return { name, type: AttributeType.INT, i: v.int };
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  if ('ints' in v) return { name, type: AttributeType.INTS, ints: v.ints };
  if ('floats' in v) return { name, type: AttributeType.FLOATS, floats: v.floats };
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v.string) };
}

function littleEndian(data: Float32Array | BigInt64Array): Uint8Array {
  // ONNX's raw_data is little-endian; typed arrays use the host's order, little-endian on every platform Kiln runs on.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** Collects the nodes and initializers of one ONNX graph, with unique names. */
export class OnnxGraphBuilder implements OnnxGraphWriter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly names = new Set<string>();

  /** `base`, or `base_2`, `base_3`… if taken. */
  fresh(base: string): string {
    let name = base;
    for (let n = 2; this.names.has(name); n++) name = `${base}_${n}`;
    this.names.add(name);
    return name;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    const size = dims.reduce((a, d) => a * d, 1);
    if (size !== data.length) throw new Error(`onnx: initializer ${name} has ${data.length} values for shape [${dims}]`);
    const unique = this.fresh(name);
    this.initializers.push({ name: unique, dims, dataType: DataType.FLOAT, rawData: littleEndian(data) });
    return unique;
  }

  int64s(name: string, values: number[]): string {
    const unique = this.fresh(name);
    this.initializers.push({
      name: unique,
      dims: [values.length],
      dataType: DataType.INT64,
      rawData: littleEndian(BigInt64Array.from(values, BigInt)),
    });
    return unique;
  }

  /** Adds a node and returns the name of its (single) output. */
  node(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    const out = this.fresh(output);
    this.nodes.push({
      name: out,
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return out;
  }
}
