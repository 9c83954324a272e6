import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import { createJobRunner } from '../src-main/app/job-runner.ts';
import { FORK } from '../src-main/common/fork-transport.ts';
import type { Transport } from '../src-main/common/child-channel.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

const scratch = tempHome();
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const small = (file: string, r: number) =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 0, b: 0 } } })
    .png()
    .toFile(file);

/** A 1-bit BMP whose header says 16383×16383: 33 MB on disk (sparse here), 805 MB once decoded to RGB. */
function hugeBmp(file: string): void {
  const side = 16383;
  const row = Math.ceil(side / 32) * 4;
  const head = Buffer.alloc(62);
  head.write('BM', 0, 'latin1');
  head.writeUInt32LE(62 + row * side, 2);
  head.writeUInt32LE(62, 10);
  head.writeUInt32LE(40, 14);
  head.writeInt32LE(side, 18);
  head.writeInt32LE(side, 22);
  head.writeUInt16LE(1, 26);
  head.writeUInt16LE(1, 28);
  head.writeUInt32LE(row * side, 34);
  head.writeUInt32LE(2, 46);
  head.writeUInt32LE(0x00ffffff, 58);
  fs.writeFileSync(file, head);
  fs.truncateSync(file, 62 + row * side);
}

/** Imports read nothing they could not hold, and a decode that kills the import is named (M4). */
describe('imports and memory', () => {
  it('a file over the size limit is skipped before it is read; a huge image before it is decoded', async () => {
    const folder = path.join(scratch, 'big');
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(folder, c), { recursive: true });
      await small(path.join(folder, c, 'ok.png'), c === 'a' ? 10 : 200);
    }
    // A valid 8×8 PNG header on a 1 GB (sparse) file.
    const sparse = path.join(folder, 'a', 'sparse.png');
    await small(sparse, 50);
    fs.truncateSync(sparse, 1024 ** 3);
    hugeBmp(path.join(folder, 'b', 'huge.bmp'));
    const summary = await importFolder(new DatasetStore(path.join(scratch, 'home')), { folder, size: 16 });
    expect(summary.train + summary.val).toBe(2);
    const reasons = Object.fromEntries(summary.skipped.map((s) => [s.path, s.reason]));
    expect(reasons['a/sparse.png']).toBe('file of 1024 MiB is over the 256 MiB Kiln reads for one image');
    expect(reasons['b/huge.bmp']).toMatch(
      /^16383×16383 pixels: decoding needs about \d+ MiB, more than the \d+ MiB an import may use at once$/,
    );
  }, 60_000);

  it('an import process that dies while decoding a large image names the file and says out of memory', async () => {
    const folder = path.join(scratch, 'dies');
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(folder, c), { recursive: true });
      await small(path.join(folder, c, 'ok.png'), c === 'a' ? 10 : 200);
    }
    // 12 MP: small on disk, about 100 MB to decode, so it is announced before it starts.
    await sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 9, g: 9, b: 9 } } })
      .png()
      .toFile(path.join(folder, 'b', 'large.png'));
    const pids: number[] = [];
    const transport: Transport = (channel, args) => {
      const end = FORK(channel, args);
      if (end.pid) pids.push(end.pid);
      return end;
    };
    const jobs = createJobRunner(transport);
    const failure = await jobs(
      { kind: 'importFolder', home: path.join(scratch, 'home2'), options: { folder, size: 16, concurrency: 1 } },
      {
        onProgress: (e) => {
          // As the kernel's OOM killer would, the moment the large decode starts.
          if ((e as { decoding?: string }).decoding) process.kill(pids[0]!, 'SIGKILL');
        },
      },
    ).then(
      () => null,
      (err: Error) => err,
    );
    expect(failure?.message).toMatch(
      /^the folder import process exited unexpectedly while decoding "b\/large\.png", most likely out of memory \(killed by SIGKILL\)/,
    );
  }, 60_000);
});
