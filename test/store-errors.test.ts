import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { KilnServer } from '../src-main/server/kiln-server.ts';
import { DEFAULT_RUN_CONFIG } from '../src-shared/run-config.ts';
import { rawSocket, request, startTestServer } from './server-helpers.ts';

const call = (ws: WebSocket, id: number, method: string, args: unknown[]) => request(ws, JSON.stringify({ id, method, args }));

/** A full disk under the stores comes back in words, naming the file by its place in the home, never by its absolute path. */
describe('store errors over the contract', () => {
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let home: string;
  let ws: WebSocket;
  beforeAll(async () => {
    ({ server, cleanup, home } = await startTestServer());
    ({ ws } = await rawSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`, server.origin));
  });
  afterEach(() => {
    delete process.env.KILN_TEST_ENOSPC_OP;
  });
  afterAll(async () => {
    ws?.close();
    await cleanup?.();
  });

  const expectInWords = (reply: { error?: { name: string; message: string } }, file: RegExp) => {
    expect(reply.error?.name).toBe('DiskFullError');
    expect(reply.error?.message).toMatch(/^could not save Kiln's data \(.+\): the disk is full$/);
    expect(reply.error?.message).toMatch(file);
    expect(reply.error?.message).not.toContain(home);
    expect(reply.error?.message).not.toMatch(/ENOSPC|\/tmp\//);
  };

  it('settings.set, archs.saveCustom and runs.start on a full disk', async () => {
    process.env.KILN_TEST_ENOSPC_OP = 'atomic-write';
    expectInWords(await call(ws, 1, 'settings.set', [{ theme: 'dark' }]), /settings\.json/);
    expectInWords(
      await call(ws, 2, 'archs.saveCustom', ['Net', { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 }]),
      /archs\/net\.json/,
    );
    const config = {
      ...DEFAULT_RUN_CONFIG,
      data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
      net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
      opt: { ...DEFAULT_RUN_CONFIG.opt, epochs: 1, batchSize: 32 },
      backend: 'wasm',
    };
    expectInWords(await call(ws, 3, 'runs.start', [config]), /runs\/[^/]+\/[\w.-]+\.json/);
    // Nothing half-written stays behind.
    expect(fs.readdirSync(home).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('uploadChunk on a full disk', async () => {
    const { result } = await call(ws, 10, 'datasets.uploadBegin', [{ files: 1, bytes: 3 }]);
    process.env.KILN_TEST_ENOSPC_OP = 'upload';
    const reply = await call(ws, 11, 'datasets.uploadChunk', [
      (result as { uploadId: string }).uploadId,
      'c/a.png',
      0,
      Buffer.from('abc').toString('base64'),
    ]);
    expect(reply.error?.message).toMatch(/^disk full while writing upload upload-[0-9a-f]{16}: c\/a\.png$/);
    expect(reply.error?.message).not.toContain(home);
  });
});
