import { DataError } from '../common/errors.ts';

export interface TarEntry {
  name: string;
  size: number;
  type: 'file' | 'directory' | 'other';
  /** The entry's bytes; empty for entries the caller did not want. */
  data: Buffer;
}

const BLOCK = 512;

/** Bytes arrive in chunks of any size; headers and data are cut out of them in order. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  /** Removes n bytes; keeps them only if asked, so skipped entries cost no copies. */
  take(n: number, keep: boolean): Buffer {
    const out = keep ? Buffer.allocUnsafe(n) : Buffer.alloc(0);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0];
      const use = Math.min(head.length, n - filled);
      if (keep) head.copy(out, filled, 0, use);
      filled += use;
      if (use === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(use);
    }
    this.length -= n;
    return out;
  }
}

function field(header: Buffer, start: number, len: number): string {
  const raw = header.subarray(start, start + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? len : end).toString('utf8');
}

function octal(header: Buffer, start: number, len: number, what: string): number {
  // GNU base-256 for sizes ≥ 8 GiB: high bit of the first byte set.
  if (header[start] & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + header[i];
    return n;
  }
  const text = field(header, start, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new DataError(`corrupt archive: bad ${what} field "${text}" in a tar header`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = octal(header, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum === stored;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Long names and pax headers are small; a larger one is not a tar written by a sane tool. */
const MAX_META_BYTES = 1 << 20;

/**
 * Reads a (ustar / GNU / pax) tar stream entry by entry. Only entries for which
 * `want(name)` is true have their data kept, and only up to `maxEntryBytes` each; the rest are
 * skipped as they stream by, never held in memory whole.
 */
export async function* tarEntries(
  source: AsyncIterable<Buffer | Uint8Array>,
  want: (name: string) => boolean = () => true,
  opts: { maxEntryBytes?: number } = {},
): AsyncGenerator<TarEntry> {
  const maxEntryBytes = opts.maxEntryBytes ?? Number.MAX_SAFE_INTEGER;
  const q = new ByteQueue();
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const need = async (n: number): Promise<boolean> => {
    while (q.length < n && !ended) {
      const r = await it.next();
      if (r.done) ended = true;
      else q.push(Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    }
    return q.length >= n;
  };
  let longName: string | null = null;
  let paxPath: string | null = null;
  while (true) {
    if (!(await need(BLOCK))) {
      if (q.length === 0) return; // some writers omit the two zero blocks at the end
      throw new DataError('corrupt archive: truncated tar header');
    }
    const header = q.take(BLOCK, true);
    if (header.every((b) => b === 0)) return;
    if (!checksumOk(header)) throw new DataError('corrupt archive: tar header checksum mismatch');
    const size = octal(header, 124, 12, 'size');
    const typeflag = String.fromCharCode(header[156] || 0x30);
    const prefix = field(header, 345, 155);
    let name = field(header, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    if (longName !== null) name = longName;
    if (paxPath !== null) name = paxPath;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const meta = typeflag === 'L' || typeflag === 'x';
    const keep = meta || ((typeflag === '0' || typeflag === '7') && want(name));
    if (meta && size > MAX_META_BYTES)
      throw new DataError(`corrupt archive: a ${size}-byte tar ${typeflag === 'L' ? 'long-name' : 'pax'} header`);
    if (keep && !meta && size > maxEntryBytes)
      throw new DataError(`archive entry "${name}" is ${size} bytes, more than the ${maxEntryBytes} expected`);
    let data: Buffer = Buffer.alloc(0);
    if (keep) {
      if (!(await need(padded))) throw new DataError(`corrupt archive: "${name}" is cut short (${size} bytes expected)`);
      data = q.take(padded, true).subarray(0, size);
    } else {
      // Skipped: consumed chunk by chunk as it arrives, so an unwanted 1 GiB entry costs one chunk of memory.
      for (let left = padded; left > 0;) {
        if (!(await need(1))) throw new DataError(`corrupt archive: "${name}" is cut short (${size} bytes expected)`);
        const n = Math.min(left, q.length);
        q.take(n, false);
        left -= n;
      }
    }
    if (typeflag === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (typeflag === 'x') {
      paxPath = parsePax(data).path ?? null;
      continue;
    }
    if (typeflag === 'g') continue;
    longName = null;
    paxPath = null;
    const type = typeflag === '0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : 'other';
    yield { name, size, type, data };
  }
}
