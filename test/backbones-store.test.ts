import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BackboneStore, LicenceNotAcceptedError } from '../src-main/backbones/backbone-store.ts';
import { findBackbone } from '../src-main/engine/backbones/registry.ts';
import { torchTensorsOfBackbone, writeSafetensors } from './fixtures/safetensors-writer.ts';
import { REPO } from './fixtures/runs-fixtures.ts';
import { PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';

/**
 * The weights store against a loopback server: a download cut half-way resumes with a Range request, a wrong
 * checksum leaves nothing behind, the licence note gates the first download (and the CLI asks), two runs share one
 * copy by hard link, and `add` takes a pinned file or, --unverified, one whose tensors fit the architecture.
 */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-backbones-'));
// Any bytes serve for the download path (it checks the SHA-256, not the contents): the small fixture.
const SOURCE = path.join(import.meta.dirname, 'fixtures', 'backbones', 'resnet18-mini.safetensors');
const BYTES = fs.readFileSync(SOURCE);
const SHA256 = crypto.createHash('sha256').update(BYTES).digest('hex');
const ETAG = '"weights-1"';

let server: http.Server;
let base: string;
const requests: { path: string; range: string | undefined }[] = [];
let dropsLeft = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    requests.push({ path: url, range: req.headers.range });
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && req.headers['if-range'] === ETAG ? Number(m[1]) : 0;
    const headers = { etag: ETAG, 'content-length': String(BYTES.length - start), 'accept-ranges': 'bytes' };
    if (start > 0) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${BYTES.length - 1}/${BYTES.length}` });
    else res.writeHead(200, headers);
    if (url.startsWith('/drop') && dropsLeft > 0) {
      // Half, then the connection is cut as a flaky network would. Closed with a FIN, not a reset: a reset can make the
      // client's kernel drop what it received but had not read yet (a loaded machine), leaving nothing to resume from.
      dropsLeft--;
      res.write(BYTES.subarray(start, start + ((BYTES.length - start) >> 1)), () => setTimeout(() => res.socket?.end(), 50));
      return;
    }
    res.end(BYTES.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

describe('backbone weights store', () => {
  it('resumes a download cut half-way, verifies its SHA-256, and stores it once', async () => {
    const store = new BackboneStore(path.join(tmp, 'resume'));
    dropsLeft = 1;
    const before = requests.length;
    const phases = new Set<string>();
    const s = await store.download('resnet18', {
      url: `${base}/drop/model.safetensors`,
      sha256: SHA256,
      acceptLicence: true,
      retryDelayMs: 10,
      onProgress: (e) => phases.add(e.phase),
    });
    expect(s.alreadyStored).toBe(false);
    expect(s.retries).toBe(1);
    const mine = requests.slice(before);
    expect(mine).toHaveLength(2);
    expect(mine[1]!.range).toBe(`bytes=${BYTES.length >> 1}-`);
    expect(fs.readFileSync(store.weightsFile('resnet18')).equals(BYTES)).toBe(true);
    expect(s.record).toMatchObject({
      name: 'resnet18',
      sha256: SHA256,
      bytes: BYTES.length,
      verified: true,
      source: { kind: 'download', url: `${base}/drop/model.safetensors` },
    });
    expect([...phases]).toEqual(expect.arrayContaining(['download', 'retry', 'verify', 'done']));
    expect(list(path.join(store.root, '.downloads'))).toEqual([]);
    // Asked again: nothing is fetched.
    const again = await store.download('resnet18', { url: `${base}/model.safetensors`, sha256: SHA256 });
    expect(again.alreadyStored).toBe(true);
    expect(requests.length).toBe(before + 2);
    expect((await store.list()).find((b) => b.name === 'resnet18')!.cached?.sha256).toBe(SHA256);
  });

  it('resumes in a later attempt where a failed one stopped (the partial file is kept, the rest fetched by Range)', async () => {
    const store = new BackboneStore(path.join(tmp, 'later'));
    dropsLeft = 1;
    const url = `${base}/drop/later.safetensors`;
    await expect(store.download('resnet18', { url, sha256: SHA256, acceptLicence: true, maxRetries: 0 })).rejects.toThrow(
      `download of ${url} failed after 1 attempts`,
    );
    expect(list(path.join(store.root, '.downloads')).filter((n) => n.endsWith('.part'))).toHaveLength(1);
    expect(await store.record('resnet18')).toBeNull();
    const s = await store.download('resnet18', { url, sha256: SHA256 });
    expect(s.resumedFrom).toBe(BYTES.length >> 1);
    expect(fs.readFileSync(store.weightsFile('resnet18')).equals(BYTES)).toBe(true);
  });

  it("refuses while another live process downloads the same weights, and takes over a dead one's download", async () => {
    const store = new BackboneStore(path.join(tmp, 'locked'));
    const url = `${base}/model.safetensors`;
    const lock = `${store.partialFile('resnet18', url)}.lock`;
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    // Another Kiln (here a sleeping process) holds the partial file.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => other.on('exit', resolve));
    fs.writeFileSync(lock, JSON.stringify({ pid: other.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    const before = requests.length;
    await expect(store.download('resnet18', { url, sha256: SHA256, acceptLicence: true })).rejects.toThrow(
      `backbone resnet18 is being downloaded by another Kiln process (pid ${other.pid} on ${os.hostname()}); wait for it to finish`,
    );
    expect(requests.length).toBe(before);
    // It dies without cleaning up: its lock is stale, and the download goes ahead.
    other.kill('SIGKILL');
    await exited;
    const s = await store.download('resnet18', { url, sha256: SHA256 });
    expect(s.alreadyStored).toBe(false);
    expect(fs.readFileSync(store.weightsFile('resnet18')).equals(BYTES)).toBe(true);
    expect(list(path.dirname(lock))).toEqual([]);
  });

  it('refuses a file whose SHA-256 is not the pin, leaving nothing behind', async () => {
    const store = new BackboneStore(path.join(tmp, 'bad-sum'));
    await expect(
      store.download('resnet18', { url: `${base}/model.safetensors`, sha256: '0'.repeat(64), acceptLicence: true }),
    ).rejects.toThrow(
      `checksum mismatch for ${base}/model.safetensors: expected sha256 ${'0'.repeat(64)}, got ${SHA256}; the download was removed`,
    );
    expect(list(path.join(store.root, '.downloads'))).toEqual([]);
    expect(list(path.join(store.root, 'resnet18'))).toEqual([]);
    expect(await store.record('resnet18')).toBeNull();
    // The real pin, against these bytes: refused too.
    await expect(store.download('resnet18', { url: `${base}/model.safetensors` })).rejects.toThrow(
      `expected sha256 ${findBackbone('resnet18')!.weights.sha256}`,
    );
  });

  it('needs the licence note accepted before the first download', async () => {
    const store = new BackboneStore(path.join(tmp, 'licence'));
    const before = requests.length;
    await expect(store.download('resnet18', { url: `${base}/model.safetensors`, sha256: SHA256 })).rejects.toBeInstanceOf(
      LicenceNotAcceptedError,
    );
    expect(requests.length).toBe(before);
    expect(await store.licenceAccepted()).toBe(false);
    await store.acceptLicence();
    await store.download('resnet18', { url: `${base}/model.safetensors`, sha256: SHA256 });
    expect(await store.licenceAccepted()).toBe(true);
  });

  it('shares one stored copy between runs by hard link', async () => {
    const store = new BackboneStore(path.join(tmp, 'share'));
    await store.download('resnet18', { url: `${base}/model.safetensors`, sha256: SHA256, acceptLicence: true });
    const a = await store.linkInto('resnet18', path.join(tmp, 'share', 'runs', 'a'));
    const b = await store.linkInto('resnet18', path.join(tmp, 'share', 'runs', 'b'));
    const stored = fs.statSync(store.weightsFile('resnet18'));
    expect(fs.statSync(a.file).ino).toBe(stored.ino);
    expect(fs.statSync(b.file).ino).toBe(stored.ino);
    expect(stored.nlink).toBe(3);
    expect(a.record.sha256).toBe(SHA256);
    await expect(new BackboneStore(path.join(tmp, 'empty')).linkInto('resnet18', path.join(tmp, 'x'))).rejects.toThrow(
      'run `kiln backbone get resnet18`',
    );
  });

  it('adds a local file: the pin, or --unverified a file whose tensors fit the architecture', async () => {
    const store = new BackboneStore(path.join(tmp, 'add'));
    await expect(store.add('mobilenetv2', SOURCE)).rejects.toThrow(`${SOURCE}: its SHA-256 is ${SHA256}, not the pinned`);
    await expect(store.add('mobilenetv2', SOURCE, { unverified: true })).rejects.toThrow(
      `${SOURCE}: does not fit mobilenetv2: missing tensor features.0.0.weight`,
    );
    // A full-size MobileNetV2 in torchvision's names (zeros: only names and shapes are checked).
    const file = path.join(tmp, 'mobilenetv2.safetensors');
    writeSafetensors(file, torchTensorsOfBackbone('mobilenetv2'));
    const record = await store.add('mobilenetv2', file, { unverified: true });
    expect(record).toMatchObject({ name: 'mobilenetv2', verified: false, source: { kind: 'file', path: file } });
    expect((await store.resolve('mobilenetv2')).record.verified).toBe(false);
    expect(fs.readFileSync(store.weightsFile('mobilenetv2')).equals(fs.readFileSync(file))).toBe(true);
    expect(list(store.root).filter((n) => n.startsWith('.add-'))).toEqual([]);
  });

  it('kiln backbone get shows the licence note and downloads only on yes; list shows what is stored', async () => {
    const home = path.join(tmp, 'cli');
    const args = ['backbone', 'get', 'resnet18', '--home', home, '--url', `${base}/model.safetensors`, '--sha256', SHA256];
    const no = await kilnWithInput(args, 'n\n');
    expect(no.code).toBe(1);
    expect(no.stderr).toContain('ImageNet-1k');
    expect(no.stderr).toContain('nothing downloaded');
    expect(list(path.join(home, 'backbones', 'resnet18'))).toEqual([]);
    const yes = await kilnWithInput(args, 'y\n');
    expect(yes.stderr).toContain('accept this note? [y/N]');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('Downloaded resnet18');
    const listed = await kilnWithInput(['backbone', 'list', '--home', home, '--json'], '');
    const rows = JSON.parse(listed.stdout) as { name: string; cached: { verified: boolean } | null }[];
    expect(rows.map((r) => [r.name, r.cached?.verified ?? null])).toEqual([
      ['resnet18', true],
      ['resnet50', null],
      ['mobilenetv2', null],
    ]);
  });
});

/** `kiln …` as a process with `input` on its stdin. */
function kilnWithInput(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(REPO, 'bin/kiln.js'), ...args], {
    cwd: REPO,
    env: { ...process.env, KILN_HOME: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}
