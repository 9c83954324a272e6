import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KilnServer } from '../src-main/server/kiln-server.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../src-shared/run-config.ts';
import type { WsKilnClient } from '../src-renderer/src/lib/ws-client.ts';
import { browserClient, startTestServer } from './server-helpers.ts';
import { PROCESS_TEST_TIMEOUT } from './fixtures/kiln-process.ts';

async function poll<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tiny: RunConfig['net']['arch'] = { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 };
// 264 M parameters: under the fixed caps (500 M), 4 GiB of weights, gradients and momentum.
const huge: RunConfig['net']['arch'] = { kind: 'resnet9', widths: [256, 512, 1024, 2048], outputScale: 0.125 };
const config = (arch: RunConfig['net']['arch'], epochs = 1, limitTrain = 64): RunConfig => ({
  ...DEFAULT_RUN_CONFIG,
  data: { dataset: 'synthetic', limitTrain, limitVal: 32 },
  net: { arch },
  opt: { ...DEFAULT_RUN_CONFIG.opt, epochs, batchSize: 32 },
  backend: 'wasm',
});
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: { name: string; message: string }) => e,
  );

/** Model-size caps follow this machine's memory; a trainer killed for memory says so (M6). */
describe('runs and memory', () => {
  let server: KilnServer;
  let cleanup: () => Promise<void>;
  let home: string;
  let client: WsKilnClient;
  beforeAll(async () => {
    ({ server, cleanup, home } = await startTestServer());
    client = browserClient(server);
  });
  afterEach(() => {
    for (const k of ['KILN_MEMORY_LIMIT_BYTES', 'KILN_TEST_STEP_DELAY_MS', 'KILN_TEST_ENOSPC_OP']) delete process.env[k];
  });
  afterAll(async () => {
    client?.close();
    await cleanup?.();
  });

  it('a model too large for the machine is refused at save, start, LR find and resume, with the estimate', async () => {
    // A queued run made while memory was plenty, to resume once it is not.
    const queued = await createRun(home, config({ kind: 'resnet9', widths: [64, 128, 256, 512], outputScale: 0.125 }));
    process.env.KILN_MEMORY_LIMIT_BYTES = String(1024 ** 3);
    const refusals = [
      await errorOf(client.call('archs.saveCustom', 'Huge', huge)),
      await errorOf(client.call('runs.start', config(huge))),
      await errorOf(client.call('runs.lrFind', config(huge), { steps: 10 })),
    ];
    for (const e of refusals) {
      expect(e?.name).toBe('ModelTooLargeError');
      expect(e?.message).toMatch(
        /training needs about 3\.9\d GiB \(weights, gradients and momentum 3\.9\d GiB \+ activations .*\), more than this machine can give one run \(768 MiB|0\.750 GiB/,
      );
    }
    process.env.KILN_MEMORY_LIMIT_BYTES = String(64 * 1024 ** 2);
    const resumed = await errorOf(client.call('runs.resume', queued.id));
    expect(resumed).toMatchObject({
      name: 'ModelTooLargeError',
      message: expect.stringContaining(`run ${queued.id}: training needs about`),
    });
    expect((await new RunStore(home).get(queued.id)).status).toBe('queued');
    // The same model fits a machine with room.
    delete process.env.KILN_MEMORY_LIMIT_BYTES;
    await client.call('archs.saveCustom', 'Tiny', tiny);
  });

  it(
    'a trainer killed as the OOM killer would is reported out of memory with the estimate, not "resume"',
    async () => {
      process.env.KILN_TEST_STEP_DELAY_MS = '200';
      const { id } = await client.call('runs.start', config(tiny, 2, 256));
      const store = new RunStore(home);
      // Once it trains (its first step is logged), as the kernel would: SIGKILL from outside.
      const pid = await poll(
        'the trainer to train',
        async () => (await store.get(id)).status === 'running' && (await store.lockHolder(id))?.pid,
        120_000,
      );
      process.kill(pid, 'SIGKILL');
      const r = await poll(
        'the run to fail',
        async () => {
          const rec = await store.get(id);
          return rec.status === 'failed' ? rec : null;
        },
        60_000,
      );
      expect(r.error?.name).toBe('OutOfMemoryError');
      expect(r.error?.message).toMatch(
        /was killed, most likely because it ran out of memory \(killed by SIGKILL\); training it needs about .* GiB .*; this machine has .* GiB\. Resuming would run out again/,
      );
      expect(r.error?.message).not.toMatch(/resume the run to continue/);
    },
    PROCESS_TEST_TIMEOUT,
  );

  it(
    'stop answers with how the run really ended: a trainer that fails while stopping did not stop',
    async () => {
      process.env.KILN_TEST_STEP_DELAY_MS = '200';
      // The stop's checkpoint hits a full disk.
      process.env.KILN_TEST_ENOSPC_OP = 'tensors';
      const { id } = await client.call('runs.start', config(tiny, 1, 512));
      const store = new RunStore(home);
      await poll('the run to train', async () => (await store.get(id)).status === 'running', 120_000);
      const stopped = await errorOf(client.call('runs.stop', id));
      expect(stopped?.message).toMatch(new RegExp(`run ${id} did not stop cleanly: it ended failed \\(.*disk full`));
      expect((await store.get(id)).status).toBe('failed');
    },
    PROCESS_TEST_TIMEOUT,
  );
});
