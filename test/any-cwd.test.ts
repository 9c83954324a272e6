import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../src-shared/run-config.ts';
import { connectKiln } from '../src-renderer/src/lib/ws-client.ts';
import { kiln, serveKiln, tinyTrainArgs, waitUntil, writeTinySpec, PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';

// Children (trainers, jobs) are forked with tsx's loader; it must come from the package, not from wherever
// `kiln` was started (`/`, a photo folder, systemd, a global install).
const temps: string[] = [];
const temp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const CWDS: [string, () => string][] = [
  ['/', () => '/'],
  ['an empty temp folder', () => temp('kiln-empty-cwd-')],
];

describe.each(CWDS)('kiln started from %s', (_name, cwdOf) => {
  it(
    'kiln train forks a trainer that runs to the end',
    async () => {
      const cwd = cwdOf();
      const work = temp('kiln-cwd-home-');
      const r = await kiln(tinyTrainArgs(path.join(work, 'home'), writeTinySpec(work), ['--epochs', '1', '--limit-train', '64']), {}, cwd);
      expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|exited unexpectedly/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^done: run \S+, val acc/m);
    },
    PROCESS_TEST_TIMEOUT,
  );

  it(
    'kiln serve trains a run (trainer process) and evaluates it (job process)',
    async () => {
      const cwd = cwdOf();
      const s = serveKiln(['--home', path.join(temp('kiln-cwd-serve-'), 'home'), '--port', '0'], cwd);
      try {
        const url = new URL(await s.url);
        const client = connectKiln({
          url: `ws://${url.host}/api?token=${url.searchParams.get('token')}`,
          createSocket: (u) => new WebSocket(u, { origin: url.origin }) as never,
          reconnect: false,
        });
        const config: RunConfig = {
          ...DEFAULT_RUN_CONFIG,
          data: { dataset: 'synthetic', limitTrain: 64, limitVal: 32 },
          net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
          opt: { ...DEFAULT_RUN_CONFIG.opt, epochs: 1, batchSize: 32 },
          backend: 'wasm',
        };
        const { id } = await client.call('runs.start', config);
        let status = '';
        let error: unknown;
        await waitUntil(
          'the run to end',
          () => {
            void client.call('runs.get', id).then((r) => ((status = r.status), (error = r.error)));
            return status !== '' && status !== 'running' && status !== 'queued';
          },
          PROCESS_TEST_TIMEOUT - 60_000,
        );
        expect({ status, error }).toEqual({ status: 'finished', error: undefined });
        const evaluation = await client.call('runs.evaluate', id);
        expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(32);
        client.close();
      } finally {
        s.child.kill('SIGINT');
        await s.exited;
      }
    },
    PROCESS_TEST_TIMEOUT,
  );
});
