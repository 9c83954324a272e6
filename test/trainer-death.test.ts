/**
 * A trainer that ends without its final message, as the app, `kiln serve` and `kiln train` settle it
 * (src-main/training/trainer-death.ts), on a real run store: how it died decides the run's error and advice.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { settleDeadTrainer } from '../src-main/training/trainer-death.ts';
import { createRun, tempHome } from './fixtures/runs-fixtures.ts';

const home = tempHome();
const store = new RunStore(home);
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

async function running() {
  const run = await createRun(store);
  await store.update(run.id, { status: 'running' });
  return run.id;
}

describe('settleDeadTrainer', () => {
  it('a native crash: failed with its exit and last words, and resuming continues from the last checkpoint', async () => {
    const id = await running();
    const exit = { code: null, signal: 'SIGSEGV', detail: { stderrTail: ['loading weights', 'Segmentation fault in libvulkan'] } };
    const end = await settleDeadTrainer(store, id, exit, { started: true, killedByHost: false });
    expect(end).toMatchObject({ lost: 'process', status: 'failed', error: { name: 'TrainerCrashedError' } });
    expect(end.error!.message).toMatch(
      /exited unexpectedly \(.*SIGSEGV.*\), last saying "Segmentation fault in libvulkan"; resume the run/,
    );
    expect((await store.get(id)).error).toEqual(end.error);
  });

  it("an out-of-memory kill: the model's estimate, and that resuming would run out again", async () => {
    const id = await running();
    const end = await settleDeadTrainer(store, id, { code: null, signal: 'SIGKILL' }, { started: true, killedByHost: false });
    expect(end.error).toMatchObject({ name: 'OutOfMemoryError' });
    expect(end.error!.message).toMatch(
      /was killed, most likely because it ran out of memory \(killed by SIGKILL\); .*Resuming would run out again/,
    );
    expect((await store.get(id)).status).toBe('failed');
  });

  it('a SIGKILL the host sent itself (a pause past its timeout) is not taken for an out-of-memory', async () => {
    const id = await running();
    const end = await settleDeadTrainer(store, id, { code: null, signal: 'SIGKILL' }, { started: true, killedByHost: true });
    expect(end.error).toMatchObject({ name: 'TrainerCrashedError' });
  });

  it('a trainer that settled the run and lost only its last message keeps what it stored', async () => {
    const id = await running();
    await store.update(id, { status: 'paused' });
    const end = await settleDeadTrainer(store, id, { code: 0, signal: null }, { started: true, killedByHost: false });
    expect(end).toEqual({ lost: 'message', status: 'paused' });
    expect((await store.get(id)).status).toBe('paused');
  });
});
