import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { CIFAR10_MD5, CIFAR10_URL, defaultCifar10Url, downloadCifar10 } from '../src-main/datasets/download-cifar10.ts';
import { cliInProcess } from './fixtures/cli-in-process.ts';
import type { DownloadProgressEvent } from '../src-shared/dataset-progress.ts';
import { CIFAR10_CLASSES, REAL_CIFAR10, hasRealCifar10, makeCifar10Tarball, type Cifar10Tarball } from './fixtures/cifar10-tarball.ts';

// A small tarball in CIFAR-10's exact layout, made here, so the test needs nothing outside the checkout.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-download-'));
const fake: Cifar10Tarball = makeCifar10Tarball(path.join(tmp, 'source'), 100);
const TARBALL = fake.file;
const SIZE = fake.size;
const { sha256: SHA256, md5: MD5 } = fake;
const ETAG = '"cifar-test"';

let server: http.Server;
let base: string;
const requests: { path: string; range: string | undefined }[] = [];
let dropsLeft = 0;
const corrupt = fs.readFileSync(TARBALL).subarray(0, SIZE >> 1);

beforeAll(async () => {
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
    if (url.startsWith('/slow') && start === 0) {
      // Half at once, the rest after a pause: a progress event then reports more than a quarter, before the end.
      res.write(fs.readFileSync(TARBALL).subarray(0, SIZE >> 1));
      setTimeout(() => fs.createReadStream(TARBALL, { start: SIZE >> 1 }).pipe(res), 300);
      return;
    }
    const stream = fs.createReadStream(TARBALL, {
      start,
      end: url.startsWith('/drop') && dropsLeft > 0 ? start + Math.floor((SIZE - start) / 2) - 1 : undefined,
    });
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
    const s = await downloadCifar10(store, { url: `${base}/drop/cifar-10-binary.tar.gz`, sha256: SHA256, retryDelayMs: 10 }, (e) =>
      events.push(e),
    );

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
    expect(events.map((e) => e.phase).filter((p, i, a) => p !== a[i - 1])).toEqual([
      'download',
      'retry',
      'download',
      'verify',
      'unpack',
      'write',
      'done',
    ]);

    const n = fake.perBatch;
    expect(s.classes.map((c) => c.name)).toEqual(CIFAR10_CLASSES);
    expect(s.classes.every((c) => c.train === (5 * n) / 10 && c.val === n / 10)).toBe(true);
    expect([s.train, s.val]).toEqual([5 * n, n]);

    const d = await store.load('cifar10');
    // Records n.. come from data_batch_2; check labels of batches 1, 2 and the test batch, and pixels of image 3, against
    // the raw file bytes as the system's tar unpacks them (an independent check of our tar reader).
    const raw = await readFromTarball(['data_batch_2.bin', 'data_batch_1.bin', 'test_batch.bin']);
    const b2 = raw.get('data_batch_2.bin')!;
    expect(b2.equals(fake.members.get('data_batch_2.bin')!)).toBe(true);
    const first = (b: Buffer) => [0, 1, 2, 3, 4].map((i) => b[i * 3073]);
    expect(Array.from(d.train.labels.subarray(0, 5))).toEqual(first(raw.get('data_batch_1.bin')!));
    expect(Array.from(d.train.labels.subarray(n, n + 5))).toEqual(first(b2));
    expect(Array.from(d.val.labels.subarray(0, 5))).toEqual(first(raw.get('test_batch.bin')!));
    const b1 = raw.get('data_batch_1.bin')!;
    // HWC: pixel (x=5, y=2) of image 3 is R at plane offset 2*32+5 of the record.
    const rec = 3 * 3073 + 1,
      p = 2 * 32 + 5;
    expect(Array.from(d.train.images.subarray((3 * 1024 + p) * 3, (3 * 1024 + p) * 3 + 3))).toEqual([
      b1[rec + p],
      b1[rec + 1024 + p],
      b1[rec + 2048 + p],
    ]);
    expect(d.mean[0]).toBeGreaterThan(0.45);
    expect(d.mean[0]).toBeLessThan(0.53);
    expect(leftovers(home)).toEqual({ temp: [], datasets: ['cifar10'], downloads: [] });
  });

  it('keeps a cancelled download for resume, and a wrong checksum names both values and leaves nothing', async () => {
    const home = path.join(tmp, 'cancel');
    const store = new DatasetStore(home);
    const url = `${base}/slow/cifar-10-binary.tar.gz`;
    const ac = new AbortController();
    await expect(
      downloadCifar10(
        store,
        { url, md5: MD5 },
        (e) => e.phase === 'download' && e.bytes > SIZE / 4 && ac.abort(new Error('stop')),
        ac.signal,
      ),
    ).rejects.toThrow('stop');
    let left = leftovers(home);
    expect(left.datasets).toEqual([]);
    expect(left.temp).toEqual([]);
    const part = left.downloads.find((n) => n.endsWith('.part'))!;
    const partSize = fs.statSync(path.join(home, 'datasets', '.downloads', part)).size;
    expect(partSize).toBeGreaterThan(SIZE / 4);
    expect(partSize).toBeLessThan(SIZE);

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
    await expect(downloadCifar10(store, { url: `${base}/missing.tar.gz`, md5: MD5 })).rejects.toThrow(
      `download of ${base}/missing.tar.gz failed: HTTP 404 Not Found`,
    );

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    // Offline: the error names the other ways to get the data.
    await expect(downloadCifar10(store, { url: `http://127.0.0.1:${port}/x.tar.gz`, md5: MD5 })).rejects.toThrow(
      `cannot reach 127.0.0.1:${port}: connection refused\nOther ways: \`kiln dataset download cifar10 --url URL\` (a mirror), --file PATH (a cifar-10-binary.tar.gz already on disk), or set KILN_CIFAR10_URL=URL.`,
    );

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
    await expect(downloadCifar10(store, { url: `${base}/x`, sha256: 'xyz' })).rejects.toThrow(
      '--sha256: expected 64 hex digits, got "xyz"',
    );
  });
});

describe('CIFAR-10 from a file or a mirror', () => {
  it('--file reads a tarball on disk, verified against the official checksum unless given one, and leaves the file alone', async () => {
    const home = path.join(tmp, 'file');
    const store = new DatasetStore(home);
    requests.length = 0;
    // Not the official tarball, and no checksum given: refused, naming both values and how to proceed.
    await expect(downloadCifar10(store, { file: TARBALL })).rejects.toThrow(
      `checksum mismatch for ${TARBALL}: expected md5 ${CIFAR10_MD5} (the official tarball's), got ${MD5}; for another copy of CIFAR-10 in the same format, give its checksum with --sha256 or --md5`,
    );
    expect(fs.statSync(TARBALL).size).toBe(SIZE);
    await expect(downloadCifar10(store, { file: path.join(tmp, 'nope.tar.gz') })).rejects.toThrow(
      `--file ${path.join(tmp, 'nope.tar.gz')}: no such file`,
    );
    await expect(downloadCifar10(store, { file: tmp })).rejects.toThrow(/not a file/);
    await expect(downloadCifar10(store, { file: TARBALL, url: base })).rejects.toThrow('give either --file or --url, not both');

    const cli = await cliInProcess(['dataset', 'download', 'cifar10', '--file', TARBALL, '--sha256', SHA256, '--home', home]);
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain(
      `Read CIFAR-10 as "cifar10": 10 classes, ${5 * fake.perBatch} training and ${fake.perBatch} validation (test) images at 32×32.`,
    );
    expect(cli.stdout).toContain('checksum sha256 ok');
    expect(cli.code).toBe(0);
    expect(requests).toEqual([]);
    expect(fs.statSync(TARBALL).size).toBe(SIZE);
    expect(leftovers(home)).toEqual({ temp: [], datasets: ['cifar10'], downloads: [] });
    expect((await store.load('cifar10')).train.count).toBe(5 * fake.perBatch);
  });

  it('KILN_CIFAR10_URL sets the default address (a mirror of the official tarball: its checksum is expected)', async () => {
    expect(defaultCifar10Url({})).toBe(CIFAR10_URL);
    expect(defaultCifar10Url({ KILN_CIFAR10_URL: ' http://mirror.example/c.tar.gz ' })).toBe('http://mirror.example/c.tar.gz');
    const home = path.join(tmp, 'mirror');
    const store = new DatasetStore(home);
    const saved = process.env.KILN_CIFAR10_URL;
    process.env.KILN_CIFAR10_URL = `${base}/mirror/cifar-10-binary.tar.gz`;
    try {
      requests.length = 0;
      await expect(downloadCifar10(store, {})).rejects.toThrow(`expected md5 ${CIFAR10_MD5} (the official tarball's), got ${MD5}`);
      expect(requests.map((r) => r.path)).toEqual(['/mirror/cifar-10-binary.tar.gz']);
      const s = await downloadCifar10(store, { sha256: SHA256 });
      expect(s.checksum).toEqual({ algorithm: 'sha256', value: SHA256 });
      expect(s.warnings).toEqual([]);
      expect(requests.map((r) => r.path)).toEqual(['/mirror/cifar-10-binary.tar.gz', '/mirror/cifar-10-binary.tar.gz']);
    } finally {
      if (saved === undefined) delete process.env.KILN_CIFAR10_URL;
      else process.env.KILN_CIFAR10_URL = saved;
    }
  });
});

describe.runIf(hasRealCifar10())('the real CIFAR-10 tarball (where ../shared/data/cifar10 has it; optional)', () => {
  it('is read through --file with its checksum and parses to the official labels', async () => {
    const store = new DatasetStore(path.join(tmp, 'real'));
    const s = await downloadCifar10(store, { file: REAL_CIFAR10.file, sha256: REAL_CIFAR10.sha256 });
    expect([s.train, s.val]).toEqual([50000, 10000]);
    expect(s.classes.every((c) => c.train === 5000 && c.val === 1000)).toBe(true);
    const d = await store.load('cifar10');
    // Official first labels of data_batch_1 and test_batch.
    expect(Array.from(d.train.labels.subarray(0, 5))).toEqual([6, 9, 9, 4, 1]);
    expect(Array.from(d.val.labels.subarray(0, 5))).toEqual([3, 8, 8, 0, 6]);
  });
});

/** The tarball's raw batch files, unpacked by the system's tar in one pass, as an independent check of our reader. */
async function readFromTarball(names: string[]): Promise<Map<string, Buffer>> {
  const { execFileSync } = await import('node:child_process');
  const dir = fs.mkdtempSync(path.join(tmp, 'raw-'));
  execFileSync('tar', ['-xzf', TARBALL, '-C', dir, ...names.map((n) => `cifar-10-batches-bin/${n}`)]);
  return new Map(names.map((n) => [n, fs.readFileSync(path.join(dir, 'cifar-10-batches-bin', n))]));
}
