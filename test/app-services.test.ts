import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKilnServices, type KilnServices } from '../src-main/app/kiln-services.ts';
import { DailyLog } from '../src-main/app/daily-log.ts';
import { JsonSettingsStore } from '../src-main/app/settings-store.ts';
import { checkExportDir, checkImportFolder } from '../src-main/app/safe-paths.ts';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../src-shared/run-config.ts';
import type { KilnEvents } from '../src-shared/contract.ts';
import { makeCifar10Tarball } from './fixtures/cifar10-tarball.ts';

const tiny: RunConfig = {
  ...DEFAULT_RUN_CONFIG,
  data: { dataset: 'synthetic', limitTrain: 256, limitVal: 64 },
  net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
  opt: { ...DEFAULT_RUN_CONFIG.opt, epochs: 3, batchSize: 32 },
  aug: { ...DEFAULT_RUN_CONFIG.aug, tta: false },
  backend: 'wasm',
};

describe('kiln services', () => {
  let home: string;
  let services: KilnServices;
  const events: { event: keyof KilnEvents; payload: unknown }[] = [];

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-services-'));
    services = await createKilnServices({ home, emit: (event, payload) => void events.push({ event, payload }) });
  });
  afterAll(async () => {
    await services?.shutdown();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('a trainer that dies marks its run failed with an error event, and the host carries on', async () => {
    const record = await services.handlers['runs.start'](tiny);
    const id = record.id;
    await expect
      .poll(() => events.some((e) => e.event === 'runStatus' && (e.payload as KilnEvents['runStatus']).status === 'running'), {
        timeout: 90_000,
        interval: 100,
      })
      .toBe(true);
    const holder = await services.runs.store.lockHolder(id);
    expect(holder?.alive).toBe(true);
    // What an out-of-memory kill looks like from outside.
    process.kill(holder!.pid, 'SIGKILL');
    await expect
      .poll(() => events.find((e) => e.event === 'runStatus' && (e.payload as KilnEvents['runStatus']).status === 'failed'), {
        timeout: 30_000,
        interval: 100,
      })
      .toBeTruthy();
    const failed = events.find((e) => e.event === 'runStatus' && (e.payload as KilnEvents['runStatus']).status === 'failed')!
      .payload as KilnEvents['runStatus'];
    expect(failed.runId).toBe(id);
    expect(failed.error).toEqual({
      name: 'OutOfMemoryError',
      message: expect.stringMatching(/was killed, most likely because it ran out of memory \(killed by SIGKILL\); training it needs about/),
    });
    const stored = await services.handlers['runs.get'](id);
    expect(stored.status).toBe('failed');
    expect(stored.error?.name).toBe('OutOfMemoryError');
    expect(services.runs.isLive(id)).toBe(false);
    // The host still answers, and the log has the error.
    expect((await services.handlers['app.info']()).home).toBe(path.resolve(home));
    const log = fs.readFileSync(new DailyLog(home).fileFor(), 'utf8');
    expect(log).toMatch(new RegExp(`ERROR run ${id}: the trainer of run ${id} was killed, most likely because it ran out of memory`));
    // Resumed, a new trainer takes over the dead one's lock and finishes the run.
    await services.handlers['runs.resume'](id);
    await expect
      .poll(
        () =>
          events.some(
            (e) =>
              e.event === 'runStatus' &&
              (e.payload as KilnEvents['runStatus']).runId === id &&
              (e.payload as KilnEvents['runStatus']).status === 'finished',
          ),
        { timeout: 120_000, interval: 200 },
      )
      .toBe(true);
    const finished = await services.handlers['runs.get'](id);
    expect(finished.progress.step).toBe(finished.progress.totalSteps);
    await expect(services.handlers['runs.resume'](id)).rejects.toMatchObject({ name: 'RunStateError' });
    await services.handlers['runs.remove'](id);
  }, 240_000);

  it('at start-up, a run left running by a host that died is marked interrupted', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-recover-'));
    try {
      const { RunStore } = await import('../src-main/runs/run-store.ts');
      const dataset = { id: 'synthetic', name: 'Synthetic shapes', manifestHash: 'x', classes: ['a', 'b'], train: 10, val: 10 };
      const { resolveRun } = await import('../src-main/training/resolve-config.ts');
      const orphan = await new RunStore(other).create({ request: tiny, resolved: resolveRun(tiny, 10, 10), dataset, status: 'running' });
      const s2 = await createKilnServices({ home: other, emit: () => undefined });
      expect(s2.recovered).toEqual([orphan.id]);
      expect((await s2.handlers['runs.get'](orphan.id)).status).toBe('interrupted');
      await s2.shutdown();
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('settings persist in <home>/settings.json with the shared defaults', async () => {
    expect((await services.handlers['settings.get']()).defaultRunConfig).toEqual(DEFAULT_RUN_CONFIG);
    await services.handlers['settings.set']({ theme: 'dark', defaultRunConfig: { ...DEFAULT_RUN_CONFIG, seed: 7 } });
    const reread = new JsonSettingsStore(home).get();
    expect(reread.theme).toBe('dark');
    expect(reread.defaultRunConfig.seed).toBe(7);
    // A damaged field falls back to its default and keeps the others.
    fs.writeFileSync(path.join(home, 'settings.json'), JSON.stringify({ theme: 'purple', lastDataset: 'cifar10' }));
    expect(new JsonSettingsStore(home).get()).toEqual({ theme: 'system', lastDataset: 'cifar10', defaultRunConfig: DEFAULT_RUN_CONFIG });
  });

  it('errors go to the daily log with their stacks', () => {
    const log = new DailyLog(home);
    log.error('something broke', new Error('disk on fire'));
    const text = fs.readFileSync(log.fileFor(), 'utf8');
    expect(path.basename(log.fileFor())).toMatch(/^\d{4}-\d{2}-\d{2}\.log$/);
    expect(text).toMatch(/ERROR something broke\n {4}Error: disk on fire\n {4}\s*at /);
  });

  it('import folders and export dirs must be absolute and outside the home internals', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-outside-'));
    try {
      expect(checkImportFolder(outside, home)).toBe(outside);
      expect(() => checkImportFolder('images', home)).toThrow(/absolute path/);
      expect(() => checkImportFolder(path.join(home, 'runs'), home)).toThrow(/does not exist|inside the Kiln home/);
      expect(() => checkImportFolder(home, home)).toThrow(/inside the Kiln home/);
      fs.symlinkSync(home, path.join(outside, 'link'));
      expect(() => checkImportFolder(path.join(outside, 'link'), home)).toThrow(/inside the Kiln home/);
      expect(checkExportDir(path.join(outside, 'model'), home)).toBe(path.join(outside, 'model'));
      expect(checkExportDir(path.join(home, 'exports', 'm1'), home)).toBe(path.join(home, 'exports', 'm1'));
      expect(() => checkExportDir(path.join(home, 'runs', 'x'), home)).toThrow(/inside the Kiln home/);
      expect(() => checkExportDir(path.join(outside, 'link', 'runs'), home)).toThrow(/inside the Kiln home/);
      expect(() => checkExportDir('out/model', home)).toThrow(/absolute path/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a CIFAR-10 download that fails ends its task with a readable error event', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => res.writeHead(404).end('gone'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const { taskId } = await services.handlers['datasets.downloadCifar10']({ url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz` });
      const last = () =>
        events
          .filter((e) => e.event === 'datasetTask' && (e.payload as KilnEvents['datasetTask']).taskId === taskId)
          .map((e) => (e.payload as KilnEvents['datasetTask']).event)
          .at(-1);
      await expect.poll(() => last()?.phase, { timeout: 30_000, interval: 50 }).toBe('error');
      expect(last()).toMatchObject({ phase: 'error', error: { message: expect.stringMatching(/404/) } });
      await expect(services.handlers['datasets.downloadCifar10']({ url: 'ftp://example.com/x.tar.gz' })).rejects.toThrow(
        /expected an http or https address/,
      );
    } finally {
      server.close();
    }
  });

  it('the download form takes a CIFAR-10 tarball already on disk (absolute path, checksum-verified)', async () => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tarball-'));
    try {
      const t = makeCifar10Tarball(src, 10);
      await expect(services.handlers['datasets.downloadCifar10']({ file: 'cifar-10-binary.tar.gz' })).rejects.toThrow(
        /expected an absolute path/,
      );
      await expect(services.handlers['datasets.downloadCifar10']({ file: path.join(src, 'missing.tar.gz') })).rejects.toThrow(
        /does not exist/,
      );
      const { taskId } = await services.handlers['datasets.downloadCifar10']({ file: t.file, sha256: t.sha256 });
      const last = () =>
        events
          .filter((e) => e.event === 'datasetTask' && (e.payload as KilnEvents['datasetTask']).taskId === taskId)
          .map((e) => (e.payload as KilnEvents['datasetTask']).event)
          .at(-1);
      await expect.poll(() => last()?.phase, { timeout: 30_000, interval: 50 }).toMatch(/^(done|error)$/);
      expect(last()).toMatchObject({ phase: 'done', id: 'cifar10' });
      expect((await services.handlers['datasets.get']('cifar10')).manifest).toMatchObject({ counts: { train: 50, val: 10 } });
      expect(fs.existsSync(t.file)).toBe(true);
      await services.handlers['datasets.remove']('cifar10');
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
    }
  });

  it('a folder import runs as a task with progress events and can be cancelled', async () => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-import-src-'));
    try {
      const sharp = (await import('sharp')).default;
      for (const cls of ['cats', 'dogs']) {
        fs.mkdirSync(path.join(src, cls));
        for (let i = 0; i < 6; i++) {
          const png = await sharp({
            create: { width: 12, height: 10, channels: 3, background: { r: cls === 'cats' ? 200 : 20, g: i * 30, b: 90 } },
          })
            .png()
            .toBuffer();
          fs.writeFileSync(path.join(src, cls, `${i}.png`), png);
        }
      }
      const { taskId } = await services.handlers['datasets.importFolder']({ folder: src, name: 'Pets', size: 16, valSplit: 0.25 });
      const taskEvents = () =>
        events
          .filter((e) => e.event === 'datasetTask' && (e.payload as KilnEvents['datasetTask']).taskId === taskId)
          .map((e) => (e.payload as KilnEvents['datasetTask']).event);
      await expect.poll(() => taskEvents().at(-1)?.phase, { timeout: 60_000, interval: 100 }).toMatch(/^(done|error)$/);
      expect(taskEvents().at(-1)).toMatchObject({ phase: 'done', id: 'pets' });
      expect(taskEvents().map((e) => e.phase)).toContain('decode');
      const info = await services.handlers['datasets.get']('pets');
      expect(info.classCounts.train.reduce((a, b) => a + b, 0) + info.classCounts.val.reduce((a, b) => a + b, 0)).toBe(12);
      await expect(services.handlers['datasets.cancelTask'](taskId)).rejects.toThrow(/no running task/);

      // Cancelled before it reads anything: the task ends with an AbortError event and no dataset.
      const second = await services.handlers['datasets.importFolder']({ folder: src, name: 'Pets again' });
      await services.handlers['datasets.cancelTask'](second.taskId);
      const ended = () =>
        events
          .filter((e) => e.event === 'datasetTask' && (e.payload as KilnEvents['datasetTask']).taskId === second.taskId)
          .map((e) => (e.payload as KilnEvents['datasetTask']).event);
      await expect
        .poll(() => ended().at(-1), { timeout: 30_000, interval: 50 })
        .toEqual({ phase: 'error', error: { name: 'AbortError', message: 'import cancelled' } });
      expect((await services.handlers['datasets.list']()).map((d) => d.id)).toEqual(['synthetic', 'pets']);
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
    }
  });
});
