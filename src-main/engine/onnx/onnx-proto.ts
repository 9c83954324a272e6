import protobuf from 'protobufjs';
import schema from './onnx-schema.json';

/**
 * ONNX's protobuf messages through protobufjs and the official schema. The interfaces name the
 * subset of fields Kiln writes and reads (camelCase, as protobufjs maps the schema's snake_case).
 */
const root = protobuf.Root.fromJSON(schema as protobuf.INamespace);
const ModelProto = root.lookupType('onnx.ModelProto');

/** TensorProto.DataType */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
/** AttributeProto.AttributeType */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian bytes, as ONNX stores raw_data. */
  rawData: Uint8Array;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute?: OnnxAttribute[];
}

/** A dimension is a fixed size or a named symbolic one (`batch`). */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  shape: OnnxDim[];
  docString?: string;
}

export interface OnnxModel {
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: {
    name: string;
    node: OnnxNode[];
    initializer: OnnxTensor[];
    input: OnnxValueInfo[];
    output: OnnxValueInfo[];
  };
  metadata: Record<string, string>;
}

const valueInfo = (v: OnnxValueInfo) => ({
  name: v.name,
  ...(v.docString ? { docString: v.docString } : {}),
  type: {
    tensorType: {
      elemType: v.elemType,
      shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

export function encodeModel(model: OnnxModel): Uint8Array {
  const message = ModelProto.fromObject({
    irVersion: model.irVersion,
    opsetImport: [{ domain: '', version: model.opset }],
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    ...(model.docString ? { docString: model.docString } : {}),
    graph: {
      name: model.graph.name,
      node: model.graph.node,
      initializer: model.graph.initializer,
      input: model.graph.input.map(valueInfo),
      output: model.graph.output.map(valueInfo),
    },
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
  });
  return ModelProto.encode(message).finish();
}

/** The model's top-level facts back from its bytes: what a reader of the file sees. */
export function decodeModel(bytes: Uint8Array): {
  irVersion: number;
  opset: number;
  producerName: string;
  opTypes: string[];
  inputs: { name: string; shape: OnnxDim[] }[];
  outputs: { name: string; shape: OnnxDim[] }[];
  initializers: number;
  metadata: Record<string, string>;
} {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false }) as {
    irVersion: number;
    opsetImport: { domain?: string; version: number }[];
    producerName: string;
    graph: {
      node: { opType: string }[];
      initializer?: unknown[];
      input: { name: string; type: { tensorType: { shape: { dim: { dimValue?: number; dimParam?: string }[] } } } }[];
      output: { name: string; type: { tensorType: { shape: { dim: { dimValue?: number; dimParam?: string }[] } } } }[];
    };
    metadataProps?: { key: string; value: string }[];
  };
  const shapeOf = (v: (typeof m.graph.input)[number]) => v.type.tensorType.shape.dim.map((d) => d.dimParam ?? d.dimValue ?? '?');
  return {
    irVersion: m.irVersion,
    opset: m.opsetImport.find((o) => !o.domain)?.version ?? 0,
    producerName: m.producerName,
    opTypes: m.graph.node.map((n) => n.opType),
    inputs: m.graph.input.map((v) => ({ name: v.name, shape: shapeOf(v) })),
    outputs: m.graph.output.map((v) => ({ name: v.name, shape: shapeOf(v) })),
    initializers: m.graph.initializer?.length ?? 0,
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value])),
  };
}
