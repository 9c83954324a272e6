import { describe, expect, it } from 'vitest';
import { encodeSafetensors, halfToFloat, SafetensorsFile } from './safetensors.ts';

/** A safetensors file in memory: header JSON as given, then `data`. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors reader', () => {
  it('reads F32, F16 and BF16 tensors as float32, and the metadata', () => {
    const data = new Uint8Array(4 * 2 + 2 * 3 + 2 * 2);
    const v = new DataView(data.buffer);
    v.setFloat32(0, 1.5, true);
    v.setFloat32(4, -2.25, true);
    [0x3c00, 0xc000, 0x0001].forEach((h, i) => v.setUint16(8 + 2 * i, h, true)); // 1, −2, the smallest subnormal
    [0x3fc0, 0xc040].forEach((b, i) => v.setUint16(14 + 2 * i, b, true)); // 1.5, −3
    const st = SafetensorsFile.fromBytes(
      file(
        {
          __metadata__: { format: 'pt' },
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          h: { dtype: 'F16', shape: [3, 1], data_offsets: [8, 14] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [14, 18] },
        },
        data,
      ),
      'w.safetensors',
    );
    expect(st.names).toEqual(['a', 'h', 'b']);
    expect(st.header.metadata).toEqual({ format: 'pt' });
    expect(Array.from(st.float32('a'))).toEqual([1.5, -2.25]);
    expect(Array.from(st.float32('h'))).toEqual([1, -2, 2 ** -24]);
    expect(st.entry('h').shape).toEqual([3, 1]);
    expect(Array.from(st.float32('b'))).toEqual([1.5, -3]);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(() => st.float32('nope')).toThrow('w.safetensors: has no tensor "nope"');
  });

  it('names the file and the tensor in every error', () => {
    const bad = (bytes: Uint8Array) => () => SafetensorsFile.fromBytes(bytes, 'x.safetensors');
    expect(bad(new Uint8Array(5))).toThrow('x.safetensors: not a safetensors file (5 bytes');
    expect(bad(file({}, new Uint8Array(0), 1000n))).toThrow(
      'x.safetensors: not a safetensors file (its first 8 bytes give a header of 1000 bytes',
    );
    expect(bad(file('{"a": '))).toThrow('x.safetensors: the safetensors header is not valid JSON');
    expect(bad(file('[1, 2]'))).toThrow('x.safetensors: the safetensors header is not a JSON object');
    expect(bad(file({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(
      'x.safetensors: tensor "w": dtype I64 is not supported',
    );
    expect(bad(file({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(
      'x.safetensors: tensor "w": 8 bytes for a F32 tensor of shape [3] (expected 12)',
    );
    expect(bad(file({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)))).toThrow(
      'x.safetensors: tensor "w": its data (bytes 0–16) runs past the end of the file (8 data bytes): the file is cut short',
    );
    expect(bad(file({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(
      'x.safetensors: tensor "w": shape must be a list of sizes',
    );
  });

  it('writes F32 files it reads back, the header padded to 8 bytes', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'layer1.0.conv1.weight', shape: [2, 1, 1, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-8, -7) },
        { name: 'b', shape: [1], data: Float32Array.of(9) },
      ],
      { format: 'pt' },
    );
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const st = SafetensorsFile.fromBytes(bytes, 'w.safetensors');
    expect(st.names).toEqual(['layer1.0.conv1.weight', 'b']);
    expect(st.entry('layer1.0.conv1.weight').shape).toEqual([2, 1, 1, 3]);
    expect(Array.from(st.float32('layer1.0.conv1.weight'))).toEqual(Array.from(Float32Array.of(1, -2, 3.5, 0, 1e-8, -7)));
    expect(st.header.metadata).toEqual({ format: 'pt' });
    expect(() => encodeSafetensors([{ name: 'x', shape: [2], data: new Float32Array(3) }])).toThrow(
      'safetensors: tensor "x" has 3 values for shape [2]',
    );
  });

  it('says when the file cannot be read', async () => {
    await expect(SafetensorsFile.read('/nonexistent/w.safetensors')).rejects.toThrow(
      '/nonexistent/w.safetensors: cannot read (no such file)',
    );
  });
});
