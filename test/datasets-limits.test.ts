import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBmp } from '../src-main/datasets/bmp-decode.ts';
import { decodeImage } from '../src-main/datasets/decode-image.ts';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { downloadWithResume } from '../src-main/datasets/http-download.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import { tarEntries } from '../src-main/datasets/tar-reader.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';
import { tarHeader } from './fixtures/cifar10-tarball.ts';

/** Memory and size limits of the dataset readers: skipped tar entries stream by, downloads are capped. */
const dir = tempHome();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A tar stream with one unwanted entry of `skipBytes` (fresh 1 MiB chunks, as gunzip hands them out), then a wanted one. */
async function* archive(skipBytes: number): AsyncGenerator<Buffer> {
  yield tarHeader('junk.bin', skipBytes);
  for (let left = skipBytes; left > 0; left -= 1 << 20) yield Buffer.alloc(Math.min(left, 1 << 20), 7);
  const body = Buffer.from('wanted bytes');
  yield tarHeader('dir/keep.txt', body.length);
  yield Buffer.concat([body, Buffer.alloc(512 - body.length)]);
  yield Buffer.alloc(1024);
}

/** A 1-bit palette BMP of width × height, pixel data zero (all black). */
function bmp1bit(width: number, height: number): Buffer {
  const stride = Math.floor((width + 31) / 32) * 4;
  const offset = 14 + 40 + 8;
  const buf = Buffer.alloc(offset + stride * height);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(1, 28);
  buf.writeUInt32LE(2, 46);
  buf.writeUInt32LE(0xffffff, 58); // palette: black, white
  return buf;
}

describe('dataset limits', () => {
  it('a full disk during an import: a clear error, nothing half-written left, no handle leaked', async () => {
    const folder = path.join(dir, 'images');
    for (const cls of ['cats', 'dogs']) {
      fs.mkdirSync(path.join(folder, cls), { recursive: true });
      for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(folder, cls, `${i}.bmp`), bmp1bit(8 + i, 8));
    }
    const home = path.join(dir, 'home');
    const store = new DatasetStore(home);
    const fds = fs.readdirSync('/proc/self/fd').length;
    process.env.KILN_TEST_ENOSPC_OP = 'dataset';
    try {
      await expect(importFolder(store, { folder, name: 'pets', size: 8, valSplit: 0.2 })).rejects.toThrow(
        /^disk full while writing dataset "pets" in /,
      );
    } finally {
      delete process.env.KILN_TEST_ENOSPC_OP;
    }
    expect(fs.readdirSync(store.root)).toEqual([]);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fds);
    // With space again, the same import succeeds.
    expect((await importFolder(store, { folder, name: 'pets', size: 8, valSplit: 0.2 })).id).toBe('pets');
  });

  it('a BMP over the pixel limit is refused before its pixels are allocated; a large one decodes without blocking the event loop', async () => {
    const file = path.join(dir, 'huge.bmp');
    fs.writeFileSync(file, bmp1bit(20000, 20000));
    await expect(decodeImage(file, { size: 32, fit: 'crop' })).rejects.toThrow(
      // The decode budget (issue 25, M4) sees it first, from the header alone: never more than 1 GiB at once.
      /^20000×20000 pixels: decoding needs about 3\d{3} MiB, more than the \d+ MiB an import may use at once/,
    );
    // The decoder's own cap still stands behind it.
    await expect(decodeBmp(bmp1bit(20000, 20000))).rejects.toThrow(
      '20000×20000 is 400 megapixels, more than the 268 megapixels Kiln reads',
    );
    // Other work (a server's requests) runs while a 16-megapixel BMP decodes.
    let turns = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const raw = await decodeBmp(bmp1bit(4000, 4000));
    done = true;
    expect(raw.data.length).toBe(4000 * 4000 * 3);
    expect(turns).toBeGreaterThan(20);
  });

  it('a skipped 512 MiB tar entry streams by in constant memory; a wanted one over the cap is refused', async () => {
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 5);
    const got: string[] = [];
    try {
      for await (const e of tarEntries(archive(512 << 20), (n) => n.endsWith('keep.txt'))) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
        if (e.data.length) got.push(`${e.name}=${e.data.toString()}`);
      }
    } finally {
      clearInterval(timer);
    }
    expect(got).toEqual(['dir/keep.txt=wanted bytes']);
    // Before, the whole skipped entry was buffered: 512 MiB.
    expect(peak).toBeLessThan(64 << 20);
    await expect(async () => {
      for await (const _ of tarEntries(archive(1 << 20), () => true, { maxEntryBytes: 1000 }));
    }).rejects.toThrow('archive entry "junk.bin" is 1048576 bytes, more than the 1000 expected');
  });

  it('downloads over the cap are refused, by announced size or by bytes sent, and leave no part file', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/announced') {
        res.writeHead(200, { 'content-length': String(10 << 20) });
        res.end(Buffer.alloc(10 << 20));
      } else {
        res.writeHead(200); // chunked, no size announced
        const chunk = Buffer.alloc(64 << 10);
        let sent = 0;
        const pump = () => {
          while (sent < 8 << 20 && res.write(chunk)) sent += chunk.length;
          if (sent < 8 << 20) res.once('drain', pump);
          else res.end();
        };
        pump();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      for (const [route, words] of [
        ['announced', `${10 << 20} bytes`],
        ['chunked', `more than ${1 << 20} bytes`],
      ] as const) {
        const file = path.join(dir, `${route}.part`);
        await expect(
          downloadWithResume({ url: `http://127.0.0.1:${port}/${route}`, file, maxBytes: 1 << 20, maxRetries: 0 }),
        ).rejects.toThrow(`download of http://127.0.0.1:${port}/${route} refused: ${words}, and at most ${1 << 20} are expected`);
        expect(fs.existsSync(file)).toBe(false);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
