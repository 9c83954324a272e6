import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import type { KilnServer } from '../src-main/server/kiln-server.ts';
import { rawSocket, request, startTestServer } from './server-helpers.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

const call = (ws: WebSocket, id: number, method: string, args: unknown[]) => request(ws, JSON.stringify({ id, method, args }));
const png = (file: string, r: number) =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 0, b: 0 } } })
    .png()
    .toFile(file);

/** Remote mode stays inside --data-root: the root is checked first, and links out of it are refused (M5). */
describe('kiln serve --allow-remote: the data root', () => {
  const scratch = tempHome();
  const root = path.join(scratch, 'root');
  const images = path.join(root, 'images');
  const outside = path.join(scratch, 'outside');
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let ws: WebSocket;
  beforeAll(async () => {
    for (const d of ['cats', 'birds']) fs.mkdirSync(path.join(images, d), { recursive: true });
    fs.mkdirSync(path.join(outside, 'dogs'), { recursive: true });
    await png(path.join(images, 'cats', 'a.png'), 10);
    await png(path.join(images, 'birds', 'b.png'), 20);
    await png(path.join(outside, 'dogs', 'secret.png'), 30);
    await png(path.join(outside, 'secret.png'), 40);
    fs.symlinkSync(path.join(outside, 'dogs'), path.join(images, 'dogs'));
    fs.symlinkSync(path.join(outside, 'secret.png'), path.join(images, 'cats', 'leak.png'));
    ({ server, cleanup } = await startTestServer({ allowRemote: true, dataRoots: [root] }));
    ({ ws } = await rawSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`, server.origin));
  });
  afterAll(async () => {
    ws?.close();
    await cleanup?.();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('a path outside the root gets the same refusal whether or not it exists, whatever it is', async () => {
    let id = 1;
    for (const p of ['/etc/shadow', '/etc', '/no/such/place', path.join(outside, 'secret.png')]) {
      for (const [method, args] of [
        ['datasets.inspectFolder', [p]],
        ['datasets.importFolder', [{ folder: p }]],
        ['datasets.downloadCifar10', [{ file: p }]],
      ] as const) {
        const reply = await call(ws, id++, method, args as unknown as unknown[]);
        expect(reply.error, `${method} ${p}`).toMatchObject({
          name: 'PathNotAllowedError',
          message: expect.stringContaining('a remote Kiln imports only from under its --data-root folders'),
        });
      }
    }
  });

  it('entries whose real path leaves the root (links to folders and to files) are left out and reported', async () => {
    const { result, error } = await call(ws, 50, 'datasets.inspectFolder', [images]);
    expect(error).toBeUndefined();
    expect(result).toMatchObject({
      classes: [
        { name: 'birds', files: 1 },
        { name: 'cats', files: 1 },
      ],
      files: 2,
    });
    const store = new DatasetStore(path.join(scratch, 'home'));
    const summary = await importFolder(store, { folder: images, size: 8, within: [root] });
    expect(summary.classes.map((c) => c.name)).toEqual(['birds', 'cats']);
    expect(summary.train + summary.val).toBe(2);
    expect(summary.skipped).toEqual(
      expect.arrayContaining([
        { path: 'dogs', reason: 'a symbolic link to outside the data root' },
        { path: 'cats/leak.png', reason: 'a symbolic link to outside the data root' },
      ]),
    );
  });
});
