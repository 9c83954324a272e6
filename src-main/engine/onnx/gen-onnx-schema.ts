/**
 * Regenerates onnx-schema.json (protobufjs's JSON form of the official onnx.proto beside it), so the
 * schema bundles with the app like any module: `npx tsx src-main/engine/onnx/gen-onnx-schema.ts`.
 * onnx-schema.test.ts fails when the two disagree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const PROTO_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'onnx.proto');
export const SCHEMA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'onnx-schema.json');

export function schemaFromProto(): unknown {
  return protobuf.loadSync(PROTO_FILE).toJSON();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(SCHEMA_FILE, JSON.stringify(schemaFromProto()) + '\n');
  console.log(`wrote ${SCHEMA_FILE}`);
}
