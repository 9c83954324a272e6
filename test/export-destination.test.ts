import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKilnServices } from '../src-main/app/kiln-services.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { kiln, PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';
import { createRun, tempHome } from './fixtures/runs-fixtures.ts';

/** Export destinations are checked first and fail at once, in words (before: /proc hung for minutes, a path under a file gave an errno). */
vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT });

const home = tempHome();
const outside = tempHome();
afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
  if (fs.existsSync(path.join(outside, 'read-only'))) fs.chmodSync(path.join(outside, 'read-only'), 0o755);
  fs.rmSync(outside, { recursive: true, force: true });
});
const store = new RunStore(home);
const aFile = path.join(outside, 'a-file');
fs.writeFileSync(aFile, 'x');

describe('export destinations', () => {
  it('kiln export into /proc or under a file fails at once with the reason in words', async () => {
    const run = await createRun(store);
    const proc = await kiln(['export', run.id, '/proc/kiln-export-test/model', '--home', home]);
    expect(proc.code).toBe(1);
    expect(proc.stderr.trim()).toBe('kiln: cannot write to /proc/kiln-export-test/model: not a writable folder');
    const under = await kiln(['export', run.id, path.join(aFile, 'model'), '--home', home]);
    expect(under.code).toBe(1);
    expect(under.stderr.trim()).toBe(`kiln: cannot write to ${path.join(aFile, 'model')}: ${aFile} is a file, not a folder`);
  });

  it('runs.export refuses an unwritable folder before starting a job', async () => {
    const run = await createRun(store);
    let jobs = 0;
    const services = await createKilnServices({
      home,
      emit: () => undefined,
      jobs: (async () => {
        jobs++;
        return { dir: '' };
      }) as never,
    });
    try {
      await expect(services.handlers['runs.export'](run.id, '/proc/kiln-export-test')).rejects.toThrow(
        'cannot write to /proc/kiln-export-test: not a writable folder',
      );
      await expect(services.handlers['runs.export'](run.id, aFile)).rejects.toThrow(`export folder "${aFile}": exists and is not a folder`);
      await expect(services.handlers['runs.export'](run.id, path.join(aFile, 'm'))).rejects.toThrow(
        `cannot write to ${path.join(aFile, 'm')}: ${aFile} is a file, not a folder`,
      );
      const ro = path.join(outside, 'read-only');
      fs.mkdirSync(ro, { mode: 0o555 });
      if (process.getuid?.() !== 0)
        await expect(services.handlers['runs.export'](run.id, path.join(ro, 'm'))).rejects.toThrow(
          `cannot write to ${path.join(ro, 'm')}: permission denied`,
        );
      expect(jobs).toBe(0);
    } finally {
      await services.shutdown();
    }
  });
});
