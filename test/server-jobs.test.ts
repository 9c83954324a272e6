import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_WASM_RUN as tiny } from './fixtures/runs-fixtures.ts';
import { SYNTHETIC_CLASSES } from '../src-main/engine/data/synthetic.ts';
import type { KilnServer } from '../src-main/server/kiln-server.ts';
import type { WsKilnClient } from '../src-renderer/src/lib/ws-client.ts';
import { browserClient, eventLog, startTestServer } from './server-helpers.ts';

describe('kiln serve: evaluation, export, prediction and the LR finder run out of process', () => {
  let server: KilnServer;
  let home: string;
  let cleanup: () => Promise<void>;
  let client: WsKilnClient;
  let runId: string;
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-export-'));

  beforeAll(async () => {
    ({ server, home, cleanup } = await startTestServer());
    client = browserClient(server);
    const status = eventLog(client, 'runStatus');
    runId = (await client.call('runs.start', tiny)).id;
    await status.next((s) => s.runId === runId && (s.status === 'finished' || s.status === 'failed'));
    expect((await client.call('runs.get', runId)).status).toBe('finished');
  }, 180_000);
  afterAll(async () => {
    client?.close();
    await cleanup?.();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('runs.evaluate saves an evaluation that runs.evaluation reads back', async () => {
    const ev = await client.call('runs.evaluate', runId);
    expect(ev.classes).toEqual(SYNTHETIC_CLASSES);
    expect(ev.confusion).toHaveLength(10);
    expect(ev.confusion.flat().reduce((a, b) => a + b, 0)).toBe(64);
    // One epoch leaves logits near a tie, so the accuracy is only checked against its own matrix.
    expect(ev.accuracy).toBeCloseTo(ev.confusion.reduce((a, row, i) => a + row[i]!, 0) / 64, 9);
    expect(await client.call('runs.evaluation', runId)).toEqual(ev);
  }, 120_000);

  it('runs.export writes a tfjs model to a folder the person chose, never into the home', async () => {
    const dir = path.join(outside, 'model');
    expect(await client.call('runs.export', runId, dir)).toEqual({ dir });
    expect(fs.readdirSync(dir).sort()).toEqual(['kiln.json', 'model.json', 'weights.bin']);
    await expect(client.call('runs.export', runId, path.join(home, 'runs', runId))).rejects.toMatchObject({ name: 'PathNotAllowedError' });
    await expect(client.call('runs.export', runId, 'relative')).rejects.toThrow(/absolute path/);
  }, 120_000);

  it('runs.predict gives the top classes of an image', async () => {
    const image = await client.call('datasets.image', 'synthetic', 'val', 0);
    const p = await client.call('runs.predict', runId, image.png, 3);
    expect(p.top).toHaveLength(3);
    for (const t of p.top) expect(SYNTHETIC_CLASSES).toContain(t.className);
    expect(p.top[0]!.probability).toBeGreaterThanOrEqual(p.top[1]!.probability);
    await expect(client.call('runs.predict', runId, Buffer.from('not an image').toString('base64'))).rejects.toThrow(/could not be read/);
  }, 120_000);

  it('runs.lrFind returns points and a suggestion', async () => {
    // A short sweep at a small batch: the test checks the plumbing, not the curve.
    const r = await client.call('runs.lrFind', { ...tiny, opt: { ...tiny.opt, batchSize: 8 } }, { steps: 20, startLr: 1e-4, endLr: 1 });
    expect(r.points.length).toBeGreaterThan(5);
    expect(r.points.length).toBeLessThanOrEqual(20);
    expect(r.points[0]!.lr).toBeCloseTo(1e-4, 8);
    expect(r.points[1]!.lr).toBeGreaterThan(r.points[0]!.lr);
    await expect(client.call('runs.lrFind', tiny, { startLr: 1, endLr: 0.1 })).rejects.toThrow(
      /endLr \(0\.1\) must be above startLr \(1\)/,
    );
  }, 120_000);
});
