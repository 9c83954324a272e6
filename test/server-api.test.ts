import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunConfig } from '../src-shared/run-config.ts';
import { DEFAULT_RUN_CONFIG } from '../src-shared/run-config.ts';
import { PRESETS } from '../src-main/engine/arch/presets.ts';
import type { KilnServer } from '../src-main/server/kiln-server.ts';
import type { WsKilnClient } from '../src-renderer/src/lib/ws-client.ts';
import { browserClient, eventLog, startTestServer } from './server-helpers.ts';

// Trainers started by this file's server inherit a short pause per step: on a fast machine a 16-step run
// would otherwise finish before the test's pause request lands.
process.env.KILN_TEST_STEP_DELAY_MS = '100';

const tinyConfig = (seed: number): RunConfig => ({
  ...DEFAULT_RUN_CONFIG,
  data: { dataset: 'synthetic', limitTrain: 256, limitVal: 128 },
  net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
  opt: { ...DEFAULT_RUN_CONFIG.opt, epochs: 2, batchSize: 32 },
  aug: { ...DEFAULT_RUN_CONFIG.aug, tta: false },
  backend: 'wasm',
  seed,
});

describe('kiln serve: contract round trips over the WebSocket', () => {
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let client: WsKilnClient;

  beforeAll(async () => {
    ({ server, cleanup } = await startTestServer());
    client = browserClient(server);
    await client.ready;
  });
  afterAll(async () => {
    client?.close();
    await cleanup?.();
  });

  it('app.info and settings', async () => {
    const info = await client.call('app.info');
    expect(info.electron).toBe(false);
    expect(info.backends.find((b) => b.name === 'cpu')?.available).toBe(true);
    const settings = await client.call('settings.get');
    expect(settings.theme).toBe('system');
    const next = await client.call('settings.set', { theme: 'dark', lastDataset: 'synthetic' });
    expect(next.theme).toBe('dark');
    expect((await client.call('settings.get')).lastDataset).toBe('synthetic');
  });

  it('archs.presets and archs.summarize, with a readable error for a bad spec', async () => {
    const presets = await client.call('archs.presets');
    expect(presets.map((p) => p.id)).toEqual(PRESETS.map((p) => p.id));
    const small = presets.find((p) => p.id === 'resnet-9-s')!;
    expect(small.summary.params).toBeGreaterThan(100_000);
    const summary = await client.call('archs.summarize', { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 }, 32, 10);
    expect(summary.layers.length).toBeGreaterThan(5);
    expect(summary.params).toBeLessThan(small.summary.params);
    const bad = { kind: 'resnet9', widths: [4, 8, -1, 8], outputScale: 0.125 } as never;
    const err = await client.call('archs.summarize', bad, 32, 10).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ValidationError');
    expect((err as Error).message).toMatch(/^archs\.summarize: argument 0\.widths\.2: /);
  });

  it('custom architectures are saved, listed and removed', async () => {
    await client.call('archs.saveCustom', 'My Tiny Net', { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 });
    const list = await client.call('archs.listCustom');
    expect(list.map((a) => a.name)).toEqual(['My Tiny Net']);
    expect(list[0]!.spec.kind).toBe('resnet9');
    await client.call('archs.removeCustom', 'My Tiny Net');
    expect(await client.call('archs.listCustom')).toEqual([]);
    await expect(client.call('archs.removeCustom', 'My Tiny Net')).rejects.toThrow(/no saved architecture/);
  });

  it('datasets.list includes the built-in synthetic set, and its images page as PNG', async () => {
    const list = await client.call('datasets.list');
    const synthetic = list.find((d) => d.id === 'synthetic');
    expect(synthetic && 'builtIn' in synthetic && synthetic.builtIn).toBe(true);
    const page = await client.call('datasets.page', 'synthetic', 'val', 3, 0, 4);
    expect(page.total).toBe(100);
    expect(page.items).toHaveLength(4);
    for (const item of page.items) {
      expect(item.label).toBe(3);
      expect(Buffer.from(item.png, 'base64').subarray(1, 4).toString()).toBe('PNG');
    }
    await expect(client.call('datasets.remove', 'synthetic')).rejects.toThrow(/built in/);
    await expect(client.call('datasets.get', 'no-such-set')).rejects.toThrow(/no dataset "no-such-set"/);
  });

  it('a relative or missing import folder is refused before any task starts', async () => {
    await expect(client.call('datasets.importFolder', { folder: 'relative/images' })).rejects.toThrow(/expected an absolute path/);
    await expect(client.call('datasets.importFolder', { folder: '/no/such/folder/kiln' })).rejects.toThrow(/does not exist/);
  });

  it('runs.start trains a tiny run with progress, epoch and status events; pause, resume, finish; compare', async () => {
    const progress = eventLog(client, 'runProgress');
    const epochs = eventLog(client, 'runEpoch');
    const status = eventLog(client, 'runStatus');

    const record = await client.call('runs.start', tinyConfig(1), 'tiny one');
    expect(record.status).toBe('queued');
    expect(record.name).toBe('tiny one');
    const id = record.id;

    await status.next((s) => s.runId === id && s.status === 'running');
    await progress.next((p) => p.runId === id);
    await client.call('runs.pause', id);
    await status.next((s) => s.runId === id && s.status === 'paused');
    const paused = await client.call('runs.get', id);
    expect(paused.status).toBe('paused');
    expect(paused.progress.step).toBeLessThan(paused.progress.totalSteps);
    await expect(client.call('runs.pause', id)).rejects.toThrow(/not training/);

    await client.call('runs.resume', id);
    const done = await status.next((s) => s.runId === id && s.status === 'finished');
    expect(done.error).toBeUndefined();
    const finished = await client.call('runs.get', id);
    expect(finished.status).toBe('finished');
    expect(finished.progress.step).toBe(finished.progress.totalSteps);
    expect(epochs.seen.filter((e) => e.runId === id).map((e) => e.metrics.epoch)).toEqual([1, 2]);
    expect(progress.seen.every((p) => p.totalSteps === 16)).toBe(true);
    const metrics = await client.call('runs.metrics', id);
    expect(metrics.epochs.map((e) => e.epoch)).toEqual([1, 2]);

    // A second run, finished without a pause, to compare against.
    const other = await client.call('runs.start', {
      ...tinyConfig(2),
      data: { dataset: 'synthetic', limitTrain: 64, limitVal: 64 },
      opt: { ...tinyConfig(2).opt, epochs: 1 },
    });
    await status.next((s) => s.runId === other.id && s.status === 'finished');
    const cmp = await client.call('runs.compare', [id, other.id]);
    expect(cmp.runs.map((r) => r.id)).toEqual([id, other.id]);
    expect(cmp.configDiff.map((d) => d.path)).toEqual(expect.arrayContaining(['seed', 'opt.epochs']));
    expect(cmp.byEpoch.map((e) => e.epoch)).toEqual([1, 2]);
    expect(cmp.byEpoch[1]!.values[other.id]).toBeNull();

    const list = await client.call('runs.list');
    expect(list.map((r) => r.id).sort()).toEqual([id, other.id].sort());
    await client.call('runs.remove', other.id);
    await expect(client.call('runs.get', other.id)).rejects.toMatchObject({ name: 'RunNotFoundError' });
  }, 240_000);
});
