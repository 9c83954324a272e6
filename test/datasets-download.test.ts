import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { downloadCifar10 } from '../src-main/datasets/download-cifar10.ts';
import type { DownloadProgressEvent } from '../src-shared/dataset-progress.ts';

const TARBALL = path.resolve(import.meta.dirname, '../../shared/data/cifar10/cifar-10-binary.tar.gz');
// From ../shared/data/cifar10/README.md.
const SHA256 = 'bf1f0721ce0ef4d297df3162ec613933b73406a6e027455b5d0910ae1fe63c0a';
const MD5 = '96af968412eb3de86a334178e1836a15';
const SIZE = fs.statSync(TARBALL).size;
const ETAG = '"cifar-test"';

let tmp: string;
let server: http.Server;
let base: string;
const requests: { path: string; range: string | undefined }[] = [];
let dropsLeft = 0;
const corrupt = fs.readFileSync(TARBALL).subarray(0, 5 << 20);

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-download-'));
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    requests.push({ path: url, range: req.headers.range });
    if (url.startsWith('/missing')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
      return;
    }
    if (url.startsWith('/corrupt')) {
      res.writeHead(200, { 'content-length': corrupt.length }).end(corrupt);
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && req.headers['if-range'] === ETAG ? Number(m[1]) : 0;
    const headers = { etag: ETAG, 'content-length': String(SIZE - start), 'accept-ranges': 'bytes' };
    if (start > 0) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}` });
    else res.writeHead(200, headers);
    const stream = fs.createReadStream(TARBALL, { start, end: url.startsWith('/drop') && dropsLeft > 0 ? start + Math.floor((SIZE - start) / 2) - 1 : undefined });
    if (url.startsWith('/drop') && dropsLeft > 0) {
      // Send half, then cut the connection as a flaky network would.
      dropsLeft--;
      stream.on('end', () => res.socket?.destroy());
      stream.pipe(res, { end: false });
    } else {
      stream.pipe(res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const leftovers = (home: string) => {
  const root = path.join(home, 'datasets');
  const names = fs.existsSync(root) ? fs.readdirSync(root) : [];
  const downloads = fs.existsSync(path.join(root, '.downloads')) ? fs.readdirSync(path.join(root, '.downloads')) : [];
  return { temp: names.filter((n) => n.startsWith('.tmp')), datasets: names.filter((n) => !n.startsWith('.')), downloads };
};

describe('CIFAR-10 download', () => {
  it('resumes with a Range request after the connection drops half-way, then parses the official layout', async () => {
    const home = path.join(tmp, 'drop');
    const store = new DatasetStore(home);
    dropsLeft = 1;
    requests.length = 0;
    const events: DownloadProgressEvent[] = [];
    const s = await downloadCifar10(store, { url: `${base}/drop/cifar-10-binary.tar.gz`, sha256: SHA256, retryDelayMs: 10 }, (e) => events.push(e));

    // The resume starts where the bytes that reached disk end: at most half (the server's send buffer dies with the socket).
    const retry = events.find((e) => e.phase === 'retry') as Extract<DownloadProgressEvent, { phase: 'retry' }>;
    expect(retry.attempt).toBe(1);
    expect(retry.resumeFrom).toBeGreaterThan(SIZE / 4);
    expect(retry.resumeFrom).toBeLessThanOrEqual(Math.floor(SIZE / 2));
    expect(requests.map((r) => r.range)).toEqual([undefined, `bytes=${retry.resumeFrom}-`]);
    expect(s.retries).toBe(1);
    expect(s.bytes).toBe(SIZE);
    const dl = events.filter((e) => e.phase === 'download');
    expect(dl.at(-1)).toMatchObject({ bytes: SIZE, totalBytes: SIZE });
    expect(events.map((e) => e.phase).filter((p, i, a) => p !== a[i - 1])).toEqual(['download', 'retry', 'download', 'verify', 'unpack', 'write', 'done']);

    expect(s.classes.map((c) => c.name)).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(s.classes.every((c) => c.train === 5000 && c.val === 1000)).toBe(true);
    expect([s.train, s.val]).toEqual([50000, 10000]);

    const d = await store.load('cifar10');
    // Official first labels of data_batch_1 and test_batch.
    expect(Array.from(d.train.labels.subarray(0, 5))).toEqual([6, 9, 9, 4, 1]);
    expect(Array.from(d.val.labels.subarray(0, 5))).toEqual([3, 8, 8, 0, 6]);
    // Records 10,000.. come from data_batch_2; check its first labels and the first pixel of image 0 against the raw file bytes.
    const raw = await readFromTarball(['data_batch_2.bin', 'data_batch_1.bin']);
    const b2 = raw.get('data_batch_2.bin')!;
    expect(Array.from(d.train.labels.subarray(10000, 10005))).toEqual([0, 1, 2, 3, 4].map((i) => b2[i * 3073]));
    const b1 = raw.get('data_batch_1.bin')!;
    // HWC: pixel (x=5, y=2) of image 3 is R at plane offset 2*32+5 of the record.
    const rec = 3 * 3073 + 1, p = 2 * 32 + 5;
    expect(Array.from(d.train.images.subarray((3 * 1024 + p) * 3, (3 * 1024 + p) * 3 + 3))).toEqual([b1[rec + p], b1[rec + 1024 + p], b1[rec + 2048 + p]]);
    expect(d.mean[0]).toBeGreaterThan(0.45);
    expect(d.mean[0]).toBeLessThan(0.53);
    expect(leftovers(home)).toEqual({ temp: [], datasets: ['cifar10'], downloads: [] });
  });

  it('keeps a cancelled download for resume, and a wrong checksum names both values and leaves nothing', async () => {
    const home = path.join(tmp, 'cancel');
    const store = new DatasetStore(home);
    const url = `${base}/full/cifar-10-binary.tar.gz`;
    const ac = new AbortController();
    await expect(
      downloadCifar10(store, { url, md5: MD5 }, (e) => e.phase === 'download' && e.bytes > 40e6 && ac.abort(new Error('stop')), ac.signal),
    ).rejects.toThrow('stop');
    let left = leftovers(home);
    expect(left.datasets).toEqual([]);
    expect(left.temp).toEqual([]);
    const part = left.downloads.find((n) => n.endsWith('.part'))!;
    const partSize = fs.statSync(path.join(home, 'datasets', '.downloads', part)).size;
    expect(partSize).toBeGreaterThan(40e6);

    requests.length = 0;
    const wrong = 'ab'.repeat(32);
    const events: DownloadProgressEvent[] = [];
    await expect(downloadCifar10(store, { url, sha256: wrong }, (e) => events.push(e))).rejects.toThrow(
      `checksum mismatch for ${url}: expected sha256 ${wrong}, got ${SHA256}`,
    );
    expect(requests.map((r) => r.range)).toEqual([`bytes=${partSize}-`]);
    expect(events.find((e) => e.phase === 'download')).toMatchObject({ resumedFrom: partSize });
    left = leftovers(home);
    expect(left).toEqual({ temp: [], datasets: [], downloads: [] });
  });

  it('reports HTTP errors, unreachable hosts and corrupt archives in one line, leaving existing datasets alone', async () => {
    const home = path.join(tmp, 'errors');
    const store = new DatasetStore(home);
    await expect(downloadCifar10(store, { url: `${base}/missing.tar.gz`, md5: MD5 })).rejects.toThrow(`download of ${base}/missing.tar.gz failed: HTTP 404 Not Found`);

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(downloadCifar10(store, { url: `http://127.0.0.1:${port}/x.tar.gz`, md5: MD5 })).rejects.toThrow(`cannot reach 127.0.0.1:${port}: connection refused`);

    const sha = crypto.createHash('sha256').update(corrupt).digest('hex');
    await expect(downloadCifar10(store, { url: `${base}/corrupt.tar.gz`, sha256: sha })).rejects.toThrow(/^corrupt archive: /);
    expect(leftovers(home)).toEqual({ temp: [], datasets: [], downloads: [] });

    // An existing "cifar10" is refused before any byte is fetched.
    fs.mkdirSync(path.join(home, 'datasets', 'cifar10'), { recursive: true });
    fs.writeFileSync(path.join(home, 'datasets', 'cifar10', 'manifest.json'), 'keep me');
    requests.length = 0;
    await expect(downloadCifar10(store, { url: `${base}/full/c.tar.gz`, sha256: SHA256 })).rejects.toThrow(/already exists/);
    expect(requests).toEqual([]);
    expect(fs.readFileSync(path.join(home, 'datasets', 'cifar10', 'manifest.json'), 'utf8')).toBe('keep me');
    await expect(downloadCifar10(store, { url: `${base}/x`, sha256: 'xyz' })).rejects.toThrow('--sha256: expected 64 hex digits, got "xyz"');
  });
});

/** The tarball's raw batch files, unpacked by the system's tar in one pass, as an independent check of our reader. */
async function readFromTarball(names: string[]): Promise<Map<string, Buffer>> {
  const { execFileSync } = await import('node:child_process');
  const dir = fs.mkdtempSync(path.join(tmp, 'raw-'));
  execFileSync('tar', ['-xzf', TARBALL, '-C', dir, ...names.map((n) => `cifar-10-batches-bin/${n}`)]);
  return new Map(names.map((n) => [n, fs.readFileSync(path.join(dir, 'cifar-10-batches-bin', n))]));
}
