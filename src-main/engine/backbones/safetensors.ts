import fs from 'node:fs';
import { DataError } from '../../common/errors.ts';

/**
 * A reader for the safetensors format (Hugging Face; timm's weights ship as it): an unsigned 64-bit little-endian
 * header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {…}}`, then the
 * raw little-endian tensor data, offsets relative to its start. Pure TypeScript; every error names the file and,
 * where there is one, the tensor.
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64';

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
/** The format's own limit on the header (100 MB); a larger length is a damaged or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range within the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file (8 + header length). */
  dataStart: number;
}

/** Parse and check the header of a safetensors buffer (the whole file, or at least its header) of `fileSize` bytes. */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  if (fileSize < 8 || bytes.length < 8)
    throw new DataError(`${file}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n < 2 || n > MAX_HEADER_BYTES || 8 + n > fileSize) {
    throw new DataError(`${file}: not a safetensors file (its first 8 bytes give a header of ${n} bytes in a file of ${fileSize})`);
  }
  if (bytes.length < 8 + n) throw new DataError(`${file}: header cut short (${bytes.length - 8} of ${n} bytes)`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new DataError(`${file}: the safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new DataError(`${file}: the safetensors header is not a JSON object`);
  const dataStart = 8 + n;
  const dataBytes = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw && typeof raw === 'object' ? raw : {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor "${name}"`;
    if (!e || typeof e !== 'object') throw new DataError(`${where}: expected {dtype, shape, data_offsets}`);
    if (typeof e.dtype !== 'string') throw new DataError(`${where}: no dtype`);
    if (!(e.dtype in BYTES)) throw new DataError(`${where}: dtype ${e.dtype} is not supported (expected F32, F16, BF16 or F64)`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new DataError(`${where}: shape must be a list of sizes, got ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new DataError(`${where}: data_offsets must be [begin, end], got ${JSON.stringify(off)}`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    const shape = e.shape as number[];
    const [begin, end] = off as [number, number];
    const expected = shape.reduce((a, d) => a * d, 1) * BYTES[dtype];
    if (end - begin !== expected)
      throw new DataError(`${where}: ${end - begin} bytes for a ${dtype} tensor of shape [${shape}] (expected ${expected})`);
    if (end > dataBytes)
      throw new DataError(
        `${where}: its data (bytes ${begin}–${end}) runs past the end of the file (${dataBytes} data bytes): the file is cut short`,
      );
    entries.set(name, { name, dtype, shape, begin, end });
  }
  return { entries, metadata, dataStart };
}

/** A safetensors file read whole; tensors come out as float32. */
export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly bytes: Uint8Array,
    readonly header: SafetensorsHeader,
  ) {}

  static async read(file: string): Promise<SafetensorsFile> {
    let bytes: Buffer;
    try {
      bytes = await fs.promises.readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DataError(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)})`);
    }
    return SafetensorsFile.fromBytes(bytes, file);
  }

  static fromBytes(bytes: Uint8Array, file: string): SafetensorsFile {
    return new SafetensorsFile(file, bytes, parseSafetensorsHeader(bytes, bytes.length, file));
  }

  get names(): string[] {
    return [...this.header.entries.keys()];
  }

  entry(name: string): SafetensorsEntry {
    const e = this.header.entries.get(name);
    if (!e) throw new DataError(`${this.file}: has no tensor "${name}"`);
    return e;
  }

  /** The tensor's values as float32 (F16 and BF16 widened exactly, F64 rounded), in the file's (row-major) order. */
  float32(name: string): Float32Array {
    const e = this.entry(name);
    const start = this.bytes.byteOffset + this.header.dataStart + e.begin;
    const n = (e.end - e.begin) / BYTES[e.dtype];
    const view = new DataView(this.bytes.buffer, start, e.end - e.begin);
    const out = new Float32Array(n);
    switch (e.dtype) {
      case 'F32':
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
        break;
      case 'F64':
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
        break;
      case 'BF16': {
        // bfloat16 is the top half of a float32.
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
        break;
      }
      case 'F16':
        for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
    }
    return out;
  }
}

/** IEEE 754 binary16 → number, subnormals, infinities and NaN included. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * A safetensors file's bytes for float32 tensors (F32, little-endian), in the order given: for tests that make
 * weights files, and for writing Kiln's own weights in a form PyTorch reads. The header is padded to 8 bytes.
 */
export function encodeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor "${t.name}" has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  if (json.length % 8) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(8 - (json.length % 8)));
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i]!, true);
  }
  return out;
}
