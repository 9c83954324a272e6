import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { browserClient, eventLog, startTestServer } from './server-helpers.ts';
import { makeCifar10Tarball } from './fixtures/cifar10-tarball.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

const scratch = tempHome();
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('CIFAR-10 download: one task per dataset id', () => {
  it('callers that ask while a download runs join it: one request, one dataset, the same task id', async () => {
    const tarball = makeCifar10Tarball(path.join(scratch, 'source'), 20);
    const bytes = fs.readFileSync(tarball.file);
    let requests = 0;
    const mirror = http.createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': String(bytes.length) });
      // Half, then the rest a moment later: the download is still running when the others ask.
      res.write(bytes.subarray(0, bytes.length >> 1));
      setTimeout(() => res.end(bytes.subarray(bytes.length >> 1)), 400);
    });
    await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
    const { server, cleanup } = await startTestServer();
    const client = browserClient(server);
    try {
      const tasks = eventLog(client, 'datasetTask');
      const ids = await Promise.all([0, 1, 2].map(() => client.call('datasets.downloadCifar10', { url, sha256: tarball.sha256 })));
      expect(new Set(ids.map((t) => t.taskId)).size).toBe(1);
      const end = await tasks.next((e) => e.taskId === ids[0]!.taskId && (e.event.phase === 'done' || e.event.phase === 'error'), 60_000);
      expect(end.event.phase).toBe('done');
      expect(requests).toBe(1);
      expect(tasks.seen.filter((e) => e.event.phase === 'error')).toEqual([]);
      expect((await client.call('datasets.list')).filter((d) => d.id === 'cifar10')).toHaveLength(1);
      // Once it is over, a new call starts a new task (which reports that the dataset exists).
      const again = await client.call('datasets.downloadCifar10', { url, sha256: tarball.sha256 });
      expect(again.taskId).not.toBe(ids[0]!.taskId);
    } finally {
      client.close();
      await cleanup();
      mirror.close();
    }
  }, 90_000);
});
