import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { RunRecordSchema } from '../src-shared/run-types.ts';
import { RunLockedError } from '../src-main/runs/run-errors.ts';
import { createRun, killHard, runWorker, startWorker, tempHome, type Worker } from './fixtures/runs-fixtures.ts';

/** Real processes against one store: locks, kills, concurrent writers. */

let home: string;
let store: RunStore;
const workers: Worker[] = [];
beforeEach(() => {
  home = tempHome();
  store = new RunStore(home);
});
afterEach(async () => {
  for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) await killHard(w);
  fs.rmSync(home, { recursive: true, force: true });
});
const start = (args: string[]) => {
  const w = startWorker(args);
  workers.push(w);
  return w;
};

describe('trainer lock across processes', () => {
  it('refuses a second trainer while the first lives; kill -9 makes the run interrupted and free', async () => {
    const r = await createRun(store);
    const trainer = start(['train', home, r.id]);
    await trainer.waitFor('locked');
    const pid = trainer.child.pid!;
    expect((await store.get(r.id)).status).toBe('running');

    // Another process, and this one, are refused with the holder's pid.
    const second = await runWorker(['try-lock', home, r.id]);
    expect(second.stdout).toContain(`refused: run ${r.id} is already being trained by pid ${pid}`);
    const err = await store.acquireLock(r.id).catch((e) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.pid).toBe(pid);
    await expect(store.remove(r.id)).rejects.toThrow(`pid ${pid}`);

    // While the trainer lives, recovery leaves it alone.
    expect(await store.recoverInterrupted()).toEqual([]);
    expect((await store.get(r.id)).status).toBe('running');

    await killHard(trainer);
    expect(fs.existsSync(store.lockFile(r.id))).toBe(true); // SIGKILL leaves the lock behind
    expect(await store.lockHolder(r.id)).toMatchObject({ pid, alive: false });

    expect(await store.recoverInterrupted()).toEqual([r.id]);
    const after = await store.get(r.id);
    expect(after.status).toBe('interrupted');
    expect(fs.existsSync(store.lockFile(r.id))).toBe(false);
    expect(await store.recoverInterrupted()).toEqual([]); // idempotent
  });

  it('takes over the stale lock of a killed trainer without recovery having run first', async () => {
    const r = await createRun(store);
    const trainer = start(['train', home, r.id]);
    await trainer.waitFor('locked');
    await killHard(trainer);
    const release = await store.acquireLock(r.id);
    expect(JSON.parse(fs.readFileSync(store.lockFile(r.id), 'utf8')).pid).toBe(process.pid);
    // Status still says running, but its lock is held by a live process (us): not interrupted.
    expect(await store.recoverInterrupted()).toEqual([]);
    await release();
    expect(await store.recoverInterrupted()).toEqual([r.id]);
  });

  it('lets exactly one of several processes racing for a free run win', async () => {
    const r = await createRun(store);
    const racers = await Promise.all([1, 2, 3].map(() => start(['train', home, r.id])));
    // Each either prints "locked" or dies with the refusal; wait until all have decided.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const decided = racers.filter((w) => w.stdout().includes('locked') || w.child.exitCode !== null);
      if (decided.length === racers.length) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const winners = racers.filter((w) => w.stdout().includes('locked'));
    const losers = racers.filter((w) => w.child.exitCode !== null);
    expect(winners.length).toBe(1);
    expect(losers.length).toBe(2);
    for (const l of losers) expect(l.stderr()).toContain(`already being trained by pid ${winners[0]!.child.pid}`);
  });

  it('marks a queued run whose trainer died after taking the lock as interrupted, but not a plain queued run', async () => {
    const queued = await createRun(store);
    const started = await createRun(store);
    const trainer = start(['train', home, started.id]);
    await trainer.waitFor('locked');
    await store.update(started.id, { status: 'queued' }); // died between the lock and 'running'
    await killHard(trainer);
    expect(await store.recoverInterrupted()).toEqual([started.id]);
    expect((await store.get(queued.id)).status).toBe('queued');
  });
});

describe('concurrent writers', () => {
  it('two processes appending metrics to two runs do not mix or lose lines', async () => {
    const a = await createRun(store);
    const b = await createRun(store);
    const n = 400;
    const wa = start(['append', home, a.id, String(n), 'A', '7']);
    const wb = start(['append', home, b.id, String(n), 'B', '11']);
    expect(await wa.exited).toBe(0);
    expect(await wb.exited).toBe(0);
    for (const [run, tag] of [
      [a, 'A'],
      [b, 'B'],
    ] as const) {
      const lines = fs.readFileSync(store.metricsFile(run.id), 'utf8').trimEnd().split('\n');
      expect(lines.length).toBe(n);
      const parsed = lines.map((l) => JSON.parse(l));
      expect(parsed.every((l) => l.worker === tag)).toBe(true);
      expect(parsed.map((l) => l.step)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect((await store.readMetrics(run.id)).steps.length).toBe(n);
    }
  });

  it('two processes appending to the same run never interleave inside a line', async () => {
    const r = await createRun(store);
    const n = 300;
    const w1 = start(['append', home, r.id, String(n), 'one', '5']);
    const w2 = start(['append', home, r.id, String(n), 'two', '5']);
    expect(await w1.exited).toBe(0);
    expect(await w2.exited).toBe(0);
    const parsed = fs
      .readFileSync(store.metricsFile(r.id), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(parsed.length).toBe(2 * n);
    for (const tag of ['one', 'two']) {
      expect(parsed.filter((l) => l.worker === tag).map((l) => l.step)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
  });

  it('read-modify-writes of run.json from two processes all land', async () => {
    const r = await createRun(store);
    const n = 40;
    const w1 = start(['increment', home, r.id, String(n)]);
    const w2 = start(['increment', home, r.id, String(n)]);
    expect(await w1.exited).toBe(0);
    expect(await w2.exited).toBe(0);
    expect((await store.get(r.id)).progress.step).toBe(2 * n);
  });

  it('a writer killed mid-rewrite never leaves a torn run.json, and recovery sweeps its temp files', async () => {
    const r = await createRun(store);
    const writer = start(['update-forever', home, r.id]);
    await writer.waitFor('writing');
    // Read while it rewrites: every read is a whole record, old or new.
    for (let i = 0; i < 100; i++) {
      const text = fs.readFileSync(store.runFile(r.id), 'utf8');
      expect(RunRecordSchema.safeParse(JSON.parse(text)).success).toBe(true);
    }
    await killHard(writer);
    const record = await store.get(r.id);
    expect(record.error?.name).toMatch(/^Padding\d+$/);
    await store.recoverInterrupted();
    expect(fs.readdirSync(store.runDir(r.id)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    // A stale update lock left by the killed writer does not block the next update.
    const renamed = await store.rename(r.id, 'after the crash');
    expect(renamed.name).toBe('after the crash');
  });
});
