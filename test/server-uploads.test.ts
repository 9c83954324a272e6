import fs from 'node:fs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KilnServer } from '../src-main/server/kiln-server.ts';
import { MAX_OPEN_UPLOADS } from '../src-main/datasets/upload-store.ts';
import { rawSocket, request, startTestServer } from './server-helpers.ts';

const call = (ws: WebSocket, id: number, method: string, args: unknown[]) => request(ws, JSON.stringify({ id, method, args }));

/** Uploads belong to the connection that began them (M2). */
describe('kiln serve: uploads and connections', () => {
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let api: string;
  beforeAll(async () => {
    ({ server, cleanup } = await startTestServer());
    api = `ws://127.0.0.1:${server.port}/api?token=${server.token}`;
  });
  afterAll(async () => cleanup?.());

  const folders = () => {
    const root = server.services.uploads.root;
    if (!fs.existsSync(root)) return 0;
    return fs.readdirSync(root).flatMap((owner) => fs.readdirSync(`${root}/${owner}`).filter((n) => n.startsWith('upload-'))).length;
  };

  it('a dropped connection cancels the uploads it was sending: their folders go and new uploads can begin', async () => {
    const first = await rawSocket(api, server.origin);
    for (let i = 0; i < MAX_OPEN_UPLOADS; i++) {
      const { result } = await call(first.ws, i, 'datasets.uploadBegin', [{ files: 1, bytes: 10 }]);
      await call(first.ws, 100 + i, 'datasets.uploadChunk', [
        (result as { uploadId: string }).uploadId,
        'c/a.png',
        0,
        Buffer.from('abc').toString('base64'),
      ]);
    }
    expect(folders()).toBe(MAX_OPEN_UPLOADS);
    first.ws.terminate();
    await first.closed;
    const second = await rawSocket(api, server.origin);
    let begun: Awaited<ReturnType<typeof call>> | undefined;
    for (let tries = 0; tries < 100 && !begun?.result; tries++) {
      begun = await call(second.ws, tries, 'datasets.uploadBegin', [{ files: 1, bytes: 10 }]);
      if (!begun.result) await new Promise((r) => setTimeout(r, 20));
    }
    expect(begun?.error).toBeUndefined();
    await expect.poll(folders).toBe(1);
    second.ws.close();
  });
});
