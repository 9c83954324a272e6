import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaFromProto, SCHEMA_FILE } from './gen-onnx-schema.ts';
import { decodeModel, encodeModel, DataType } from './onnx-proto.ts';

describe('onnx schema', () => {
  it('onnx-schema.json is what the vendored onnx.proto parses to (regenerate with gen-onnx-schema.ts)', () => {
    expect(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'))).toEqual(schemaFromProto());
  });

  it('round-trips a model through the protobuf encoding', () => {
    const bytes = encodeModel({
      irVersion: 8,
      opset: 17,
      producerName: 'Kiln',
      producerVersion: 'test',
      graph: {
        name: 'g',
        node: [{ name: 'y', opType: 'Relu', input: ['x'], output: ['y'] }],
        initializer: [],
        input: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 3] }],
        output: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 3] }],
      },
      metadata: { classes: '["a","b"]' },
    });
    expect(decodeModel(bytes)).toEqual({
      irVersion: 8,
      opset: 17,
      producerName: 'Kiln',
      opTypes: ['Relu'],
      inputs: [{ name: 'x', shape: ['batch', 3] }],
      outputs: [{ name: 'y', shape: ['batch', 3] }],
      initializers: 0,
      metadata: { classes: '["a","b"]' },
    });
  });
});
