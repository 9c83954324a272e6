import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { BrokenRunError, InvalidRunIdError, RunNotFoundError } from '../src-main/runs/run-errors.ts';
import { UsageError } from '../src-main/common/errors.ts';
import { RUN_FORMAT, RunRecordSchema } from '../src-shared/run-types.ts';
import { createRun, fakeEpoch, fakeSteps, tempHome } from './fixtures/runs-fixtures.ts';

let home: string;
let store: RunStore;
beforeEach(() => {
  home = tempHome();
  store = new RunStore(home);
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.includes('.lock.'));

describe('create / get', () => {
  it('creates the run folder with a sortable, readable, unique id', async () => {
    const at = new Date('2026-11-29T02:15:00Z');
    const a = await createRun(store, { net: { arch: 'resnet-9-s' } }, { createdAt: at });
    const b = await createRun(store, { net: { arch: 'resnet-9-s' } }, { createdAt: at });
    expect(a.id).toBe('20261129-021500-resnet-9-s-cifar10');
    expect(b.id).toBe('20261129-021500-resnet-9-s-cifar10-2');
    expect(a.name).toBe(a.id);
    expect(a.status).toBe('queued');
    expect(a.format).toBe(RUN_FORMAT);
    expect(a.versions.tfjs).toMatch(/^\d+\.\d+\.\d+$/);
    expect(a.versions.node).toBe(process.versions.node);
    expect(a.host.cpus).toBeGreaterThan(0);
    expect(fs.readdirSync(store.runDir(a.id)).sort()).toEqual(['checkpoints', 'eval', 'run.json']);
    expect(store.checkpointDir(a.id)).toBe(path.join(home, 'runs', a.id, 'checkpoints'));
    const onDisk = JSON.parse(fs.readFileSync(path.join(home, 'runs', a.id, 'run.json'), 'utf8'));
    expect(RunRecordSchema.parse(onDisk)).toEqual(a);
    expect(await store.get(a.id)).toEqual(a);
  });

  it('names an inline architecture spec by its name or kind', async () => {
    const r = await createRun(store, {
      net: { arch: { kind: 'wide-resnet', name: 'WRN 16/4', groups: 3, blocksPerGroup: 2, widthFactor: 4, stemChannels: 16, dropout: 0 } },
    });
    expect(r.id).toMatch(/^\d{8}-\d{6}-wrn-16-4-cifar10$/);
  });

  it('rejects an invalid record at create and leaves no folder behind', async () => {
    await expect(
      createRun(store, {}, { dataset: { id: 'x', name: 'x', manifestHash: 'h', classes: [], train: -1, val: 0 } }),
    ).rejects.toThrow(/dataset\.train/);
    expect(fs.readdirSync(store.root)).toEqual([]);
  });

  it('names the id in a not-found error, which is a usage error', async () => {
    const err = await store.get('20990101-000000-nope').catch((e) => e);
    expect(err).toBeInstanceOf(RunNotFoundError);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('20990101-000000-nope');
  });
});

describe('run ids', () => {
  it('accepts generated ids and plain slugs', async () => {
    for (const id of ['20261129-021500-resnet-9-s-synthetic-2', 'a', 'My_run.v2']) {
      await expect(store.get(id)).rejects.toBeInstanceOf(RunNotFoundError);
    }
  });

  const bad = ['../escape', 'a/b', '/etc', '', '.hidden', 'a..b', '..', 'a\\b', 'x'.repeat(129), 'sp ace', 'ü', 'trailing.', 'x\u0000'];
  it.each(bad)('refuses %j before touching the disk', async (id) => {
    for (const call of [
      () => store.get(id),
      () => store.update(id, { name: 'x' }),
      () => store.remove(id),
      () => store.readMetrics(id),
      () => store.acquireLock(id),
    ]) {
      const err = await call().catch((e) => e);
      expect(err).toBeInstanceOf(InvalidRunIdError);
      expect(err.message).toContain(JSON.stringify(id));
    }
    expect(() => store.checkpointDir(id)).toThrow(InvalidRunIdError);
    expect(fs.existsSync(path.join(home, 'escape'))).toBe(false);
  });
});

describe('update', () => {
  it('merges top-level fields and keeps id and format', async () => {
    const r = await createRun(store);
    const next = await store.update(r.id, { status: 'running', progress: { epoch: 1, step: 97, totalSteps: 970 }, id: 'other' } as never);
    expect(next.id).toBe(r.id);
    expect(next.status).toBe('running');
    expect(next.progress.step).toBe(97);
    expect((await store.get(r.id)).progress.step).toBe(97);
    const renamed = await store.rename(r.id, '  lr 0.4, batch 512 ');
    expect(renamed.name).toBe('lr 0.4, batch 512');
    expect(renamed.status).toBe('running');
  });

  it('leaves run.json byte-identical and no temp file when the new content cannot be written', async () => {
    const r = await createRun(store);
    const file = store.runFile(r.id);
    const before = fs.readFileSync(file);
    await expect(store.update(r.id, { notes: { widths: [1n] } as never })).rejects.toThrow();
    await expect(store.update(r.id, { status: 'exploded' as never })).rejects.toThrow(/status/);
    await expect(store.update(r.id, { best: { valAcc: 1.5, ttaAcc: null, epoch: 1 } })).rejects.toThrow(/best\.valAcc/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(leftovers(store.runDir(r.id))).toEqual([]);
  });

  it('keeps fields a newer Kiln wrote that this version does not know', async () => {
    const r = await createRun(store);
    const file = store.runFile(r.id);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), futureField: { a: 1 } }));
    await store.rename(r.id, 'renamed');
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).futureField).toEqual({ a: 1 });
  });

  it('serialises concurrent updates in one process', async () => {
    const r = await createRun(store);
    await Promise.all(
      Array.from({ length: 20 }, () => store.update(r.id, (cur) => ({ progress: { ...cur.progress, step: cur.progress.step + 1 } }))),
    );
    expect((await store.get(r.id)).progress.step).toBe(20);
  });

  it('refuses a name another run has, whatever its case, and keeps the old one', async () => {
    const a = await createRun(store, {}, { name: 'baseline' });
    const b = await createRun(store, {}, { name: 'wide' });
    await expect(store.rename(b.id, ' Baseline ')).rejects.toThrow(/^a run named "Baseline" already exists: type another name$/);
    expect((await store.get(b.id)).name).toBe('wide');
    // Its own name in another case is no clash.
    expect((await store.rename(a.id, 'BASELINE')).name).toBe('BASELINE');
  });

  it('rejects an empty or multi-line name', async () => {
    const r = await createRun(store);
    await expect(store.rename(r.id, '   ')).rejects.toThrow(RangeError);
    await expect(store.rename(r.id, 'a\nb')).rejects.toThrow(RangeError);
  });

  it('keeps notes and tags (trimmed, once each) and leaves a field not given as it was', async () => {
    const r = await createRun(store);
    await store.annotate(r.id, { notes: 'lr too high?', tags: [' baseline ', 'wrn', 'baseline', ''] });
    expect(await store.get(r.id)).toMatchObject({ notes: 'lr too high?', tags: ['baseline', 'wrn'] });
    await store.annotate(r.id, { tags: ['sweep'] });
    expect(await store.get(r.id)).toMatchObject({ notes: 'lr too high?', tags: ['sweep'] });
    await expect(store.annotate(r.id, { tags: ['x'.repeat(41)] })).rejects.toThrow(/tags/);
  });
});

describe('list', () => {
  it('lists newest first and reports broken folders without failing', async () => {
    const old = await createRun(store, {}, { createdAt: new Date('2026-01-01T00:00:00Z') });
    const mid = await createRun(store, {}, { createdAt: new Date('2026-06-01T00:00:00Z') });
    const newest = await createRun(store, {}, { createdAt: new Date('2026-12-01T00:00:00Z') });
    fs.mkdirSync(path.join(store.root, 'being-created'));
    fs.mkdirSync(path.join(store.root, 'no-run-json'));
    fs.utimesSync(path.join(store.root, 'no-run-json'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    fs.mkdirSync(path.join(store.root, 'bad-json'));
    fs.writeFileSync(path.join(store.root, 'bad-json', 'run.json'), '{"id": "bad-json", ');
    fs.mkdirSync(path.join(store.root, 'bad-field'));
    fs.writeFileSync(path.join(store.root, 'bad-field', 'run.json'), JSON.stringify({ ...mid, id: 'bad-field', status: 'weird' }));
    fs.mkdirSync(path.join(store.root, 'wrong-id'));
    fs.writeFileSync(path.join(store.root, 'wrong-id', 'run.json'), JSON.stringify(mid));

    const { runs, broken } = await store.list();
    expect(runs.map((r) => r.id)).toEqual([newest.id, mid.id, old.id]);
    const byId = Object.fromEntries(broken.map((b) => [b.id, b.error]));
    expect(Object.keys(byId).sort()).toEqual(['bad-field', 'bad-json', 'no-run-json', 'wrong-id']);
    expect(byId['no-run-json']).toMatch(/run\.json.*missing/);
    expect(byId['bad-json']).toMatch(/not valid JSON/);
    expect(byId['bad-field']).toMatch(/status/);
    expect(byId['wrong-id']).toMatch(/id: expected "wrong-id"/);
    await expect(store.get('bad-json')).rejects.toBeInstanceOf(BrokenRunError);
  });

  it('is empty for a home with no runs folder', async () => {
    expect(await store.list()).toEqual({ runs: [], broken: [] });
  });
});

describe('remove', () => {
  it('deletes the folder, its metrics and checkpoints', async () => {
    const keep = await createRun(store);
    const r = await createRun(store);
    await store.appendMetrics(r.id, fakeSteps(1, 10, 10));
    fs.writeFileSync(path.join(store.checkpointDir(r.id), 'latest.bin'), 'weights');
    await store.remove(r.id);
    expect(fs.existsSync(store.runDir(r.id))).toBe(false);
    expect(fs.readdirSync(store.root)).toEqual([keep.id]);
    await expect(store.get(r.id)).rejects.toBeInstanceOf(RunNotFoundError);
  });
});

describe('metrics', () => {
  it('appends, flushes and reads back steps and epochs in order', async () => {
    const r = await createRun(store);
    await store.appendMetrics(r.id, fakeSteps(1, 50, 50));
    await store.appendMetrics(r.id, [fakeEpoch(0, 50, 0.41)]);
    await store.flushMetrics(r.id);
    await store.appendMetrics(r.id, [...fakeSteps(51, 100, 50), fakeEpoch(1, 50, 0.55)]);
    await store.closeMetrics(r.id);
    const m = await store.readMetrics(r.id);
    expect(m.steps.map((s) => s.step)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(m.epochs.map((e) => [e.epoch, e.valAcc])).toEqual([
      [0, 0.41],
      [1, 0.55],
    ]);
    expect(m.tornTail).toBe(false);
    const text = fs.readFileSync(store.metricsFile(r.id), 'utf8');
    expect(text.split('\n').length).toBe(103); // 102 lines + the empty string after the last newline
  });

  it('stores a NaN loss (a diverged run) as null', async () => {
    const r = await createRun(store);
    await store.appendMetrics(r.id, [{ ...fakeSteps(1, 1, 10)[0]!, loss: NaN }]);
    const m = await store.readMetrics(r.id);
    expect(m.steps[0]!.loss).toBeNull();
  });

  it('refuses a malformed line before writing anything', async () => {
    const r = await createRun(store);
    const good = fakeSteps(1, 2, 10);
    await expect(store.appendMetrics(r.id, [...good, { ...good[0]!, lr: 'fast' as never }])).rejects.toThrow(/line 2: lr/);
    expect((await store.readMetrics(r.id)).steps).toEqual([]);
  });

  it('ignores a torn last line, and cuts it off before the next append', async () => {
    const r = await createRun(store);
    await store.appendMetrics(r.id, fakeSteps(1, 5, 10));
    await store.closeMetrics(r.id);
    const file = store.metricsFile(r.id);
    fs.appendFileSync(file, '{"type":"step","step":6,"epoch":0,"lo');
    const torn = await store.readMetrics(r.id);
    expect(torn.tornTail).toBe(true);
    expect(torn.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5]);

    const resumed = new RunStore(home); // a new trainer process after the crash
    await resumed.appendMetrics(r.id, fakeSteps(6, 8, 10));
    await resumed.closeMetrics(r.id);
    const m = await store.readMetrics(r.id);
    expect(m.tornTail).toBe(false);
    expect(m.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('"lo{');
  });

  it('names the file and line of a damaged line in the middle', async () => {
    const r = await createRun(store);
    const file = store.metricsFile(r.id);
    fs.writeFileSync(file, [JSON.stringify(fakeSteps(1, 1, 10)[0]), 'garbage', JSON.stringify(fakeSteps(2, 2, 10)[0])].join('\n') + '\n');
    await expect(store.readMetrics(r.id)).rejects.toThrow(`${file}:2: not a JSON line`);
  });

  it('skips line types it does not know, and keeps the later copy of a re-logged step', async () => {
    const r = await createRun(store);
    await store.appendMetrics(r.id, [...fakeSteps(1, 3, 10), { type: 'session', resumedAt: 'x' } as never]);
    await store.appendMetrics(r.id, [{ ...fakeSteps(3, 3, 10)[0]!, loss: 0.123 }]);
    const m = await store.readMetrics(r.id);
    expect(m.steps.map((s) => [s.step, s.loss === 0.123])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
  });

  it('rewinds to a checkpoint step, dropping what a resumed session will log again', async () => {
    const r = await createRun(store);
    await store.appendMetrics(r.id, [...fakeSteps(1, 10, 5), fakeEpoch(0, 5, 0.3), fakeEpoch(1, 5, 0.4)]);
    await store.rewindMetrics(r.id, 7);
    await store.appendMetrics(r.id, fakeSteps(8, 8, 5)); // the appender must reopen the rewritten file
    await store.closeMetrics(r.id);
    const m = await store.readMetrics(r.id);
    expect(m.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(m.epochs.map((e) => e.epoch)).toEqual([0]);
    expect(leftovers(store.runDir(r.id))).toEqual([]);
  });

  it('reads an absent metrics file as empty', async () => {
    const r = await createRun(store);
    expect(await store.readMetrics(r.id)).toEqual({ steps: [], epochs: [], tornTail: false });
  });
});

describe('recovery leftovers', () => {
  it("sweeps temp files of killed writes, a dead updater's lock and a half-deleted run", async () => {
    const r = await createRun(store);
    const before = fs.readFileSync(store.runFile(r.id), 'utf8');
    const dir = store.runDir(r.id);
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    fs.writeFileSync(path.join(dir, '.run.json.0123456789ab.tmp'), '{"half": ');
    fs.writeFileSync(
      path.join(dir, '.update.lock'),
      JSON.stringify({ pid: deadPid, hostname: os.hostname(), startedAt: new Date().toISOString() }),
    );
    fs.mkdirSync(path.join(store.root, '.trash-old-run-1234'));
    const lockTemp = path.join(dir, '.trainer.lock.new-0123456789ab');
    fs.writeFileSync(lockTemp, '{}');
    fs.utimesSync(lockTemp, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const freshLockTemp = path.join(dir, '.update.lock.new-ba9876543210'); // might be another process mid-acquire
    fs.writeFileSync(freshLockTemp, '{}');
    expect(await store.recoverInterrupted()).toEqual([]);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(freshLockTemp), 'checkpoints', 'eval', 'run.json']);
    expect(fs.readdirSync(store.root)).toEqual([r.id]);
    expect(fs.readFileSync(store.runFile(r.id), 'utf8')).toBe(before);
  });

  it('leaves a home it has nothing to fix untouched (works read-only)', async () => {
    const r = await createRun(store);
    const dir = store.runDir(r.id);
    const mtime = fs.statSync(dir).mtimeMs;
    await new Promise((res) => setTimeout(res, 20));
    expect(await store.recoverInterrupted()).toEqual([]);
    expect(fs.statSync(dir).mtimeMs).toBe(mtime);
  });
});

describe('locks in one process', () => {
  it('refuses a second acquire, releases, and can be taken again', async () => {
    const r = await createRun(store);
    const release = await store.acquireLock(r.id);
    const info = JSON.parse(fs.readFileSync(store.lockFile(r.id), 'utf8'));
    expect(info.pid).toBe(process.pid);
    await expect(store.acquireLock(r.id)).rejects.toThrow(`run ${r.id} is already being trained by pid ${process.pid}`);
    await expect(store.remove(r.id)).rejects.toThrow(/stop it before removing/);
    await release();
    await release(); // idempotent
    expect(fs.existsSync(store.lockFile(r.id))).toBe(false);
    const again = await store.acquireLock(r.id);
    await again();
  });

  it('treats an unreadable lock (power loss before it reached the disk) as stale', async () => {
    const r = await createRun(store);
    fs.writeFileSync(store.lockFile(r.id), '');
    const release = await store.acquireLock(r.id);
    expect(JSON.parse(fs.readFileSync(store.lockFile(r.id), 'utf8')).pid).toBe(process.pid);
    await release();
  });

  it('treats a lock from before this boot as stale even if its pid is alive now', async () => {
    const r = await createRun(store);
    fs.writeFileSync(
      store.lockFile(r.id),
      JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: '2000-01-01T00:00:00.000Z' }),
    );
    await store.update(r.id, { status: 'running' });
    expect(await store.recoverInterrupted()).toEqual([r.id]);
    expect((await store.get(r.id)).status).toBe('interrupted');
  });

  it('leaves a lock from another host alone', async () => {
    const r = await createRun(store);
    await store.update(r.id, { status: 'running' });
    fs.writeFileSync(store.lockFile(r.id), JSON.stringify({ pid: 1, hostname: 'some-other-host', startedAt: new Date().toISOString() }));
    expect(await store.recoverInterrupted()).toEqual([]);
    await expect(store.acquireLock(r.id)).rejects.toThrow(/pid 1 on host some-other-host/);
  });
});
