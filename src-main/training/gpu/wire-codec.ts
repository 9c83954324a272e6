/**
 * Messages with typed arrays as one binary frame, for links without structured clone (the WebSocket a test
 * drives the GPU trainer page over): a 4-byte header length, the JSON with each typed array replaced by
 * {$ta: index, t: kind}, then the arrays' bytes, each 8-byte aligned. MessagePorts need none of this.
 */
const KINDS = { Float32Array, Int32Array, Uint8Array, Uint32Array, Float64Array } as const;
type Kind = keyof typeof KINDS;
type Typed = InstanceType<(typeof KINDS)[Kind]>;

function kindOf(v: unknown): Kind | null {
  for (const k of Object.keys(KINDS) as Kind[]) if (v instanceof KINDS[k]) return k;
  return null;
}

const align = (n: number) => (n + 7) & ~7;

export function encodeMessage(message: unknown): Uint8Array {
  const arrays: Typed[] = [];
  const json = JSON.stringify(message, (_k, v: unknown) => {
    const kind = kindOf(v);
    if (!kind) return v;
    arrays.push(v as Typed);
    return { $ta: arrays.length - 1, t: kind };
  });
  const head = new TextEncoder().encode(json);
  const table = arrays.map((a) => a.byteLength);
  const tableBytes = new TextEncoder().encode(JSON.stringify(table));
  let size = align(8 + head.length + tableBytes.length);
  const offsets = arrays.map((a) => {
    const at = size;
    size = align(size + a.byteLength);
    return at;
  });
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, head.length, true);
  view.setUint32(4, tableBytes.length, true);
  out.set(head, 8);
  out.set(tableBytes, 8 + head.length);
  arrays.forEach((a, i) => out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offsets[i]!));
  return out;
}

export function decodeMessage(frame: Uint8Array): unknown {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const headLength = view.getUint32(0, true);
  const tableLength = view.getUint32(4, true);
  const text = new TextDecoder();
  const json = text.decode(frame.subarray(8, 8 + headLength));
  const table = JSON.parse(text.decode(frame.subarray(8 + headLength, 8 + headLength + tableLength))) as number[];
  let at = align(8 + headLength + tableLength);
  const arrays = table.map((bytes) => {
    const copy = frame.slice(at, at + bytes);
    at = align(at + bytes);
    return copy.buffer;
  });
  return JSON.parse(json, (_k, v: { $ta?: number; t?: Kind } | unknown) => {
    const tagged = v as { $ta?: number; t?: Kind } | null;
    if (tagged && typeof tagged === 'object' && typeof tagged.$ta === 'number' && tagged.t && tagged.t in KINDS)
      return new KINDS[tagged.t](arrays[tagged.$ta]!);
    return v;
  });
}
