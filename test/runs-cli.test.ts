import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { cliInProcess } from './fixtures/cli-in-process.ts';
import { createRun, fakeEpoch, fakeSteps, REPO, tempHome } from './fixtures/runs-fixtures.ts';
import type { RunRecord } from '../src-shared/run-types.ts';

/** `kiln runs …` as a person runs it: a real `node bin/kiln.js` process against a temp home. */
function kiln(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO, 'bin/kiln.js'), 'runs', ...args],
      { cwd: REPO, env: { ...process.env, KILN_HOME: '' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let home: string;
let store: RunStore;
let a: RunRecord;
let b: RunRecord;
let crashed: RunRecord;
beforeAll(async () => {
  home = tempHome();
  store = new RunStore(home);
  a = await createRun(store, { opt: { lrMax: 0.4 } }, { createdAt: new Date('2026-11-28T10:00:00Z'), name: 'baseline' });
  b = await createRun(store, { opt: { lrMax: 0.2 } }, { createdAt: new Date('2026-11-29T10:00:00Z') });
  crashed = await createRun(store, {}, { createdAt: new Date('2026-11-27T10:00:00Z') });
  for (const [r, acc] of [
    [a, 0.9],
    [b, 0.85],
  ] as const) {
    await store.appendMetrics(r.id, [
      ...fakeSteps(1, 300, 100),
      fakeEpoch(0, 100, acc - 0.2),
      fakeEpoch(1, 100, acc - 0.1),
      fakeEpoch(2, 100, acc),
    ]);
    await store.closeMetrics(r.id);
    await store.update(r.id, {
      status: 'finished',
      best: { valAcc: acc, ttaAcc: acc + 0.005, epoch: 2 },
      final: { valAcc: acc, ttaAcc: acc + 0.005, valLoss: 0.4 },
      wallSeconds: 3725,
    });
  }
  // A trainer that died: status running, no lock. The CLI recovers it before listing.
  await store.update(crashed.id, { status: 'running' });
  fs.mkdirSync(path.join(store.root, 'not-a-run'));
  fs.writeFileSync(path.join(store.root, 'not-a-run', 'run.json'), '{"format": 1, "id": "not-a-run"');
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('kiln runs', () => {
  it('lists runs as an aligned table, newest first, recovering a crashed run and warning about a broken folder', async () => {
    const { code, stdout, stderr } = await kiln('list', '--home', home);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+DATASET\s+ARCH\s+BEST VAL\s+BEST TTA\s+DURATION\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([b.id, a.id, crashed.id]);
    // Aligned: every row's STATUS column starts where the header's does.
    const col = lines[0]!.indexOf('STATUS');
    for (const l of lines.slice(1)) expect(l.slice(col).split(/\s+/)[0]).toMatch(/^(finished|interrupted)$/);
    expect(lines[2]).toContain('baseline');
    expect(lines[2]).toContain('90.00%');
    expect(lines[2]).toContain('1h02m');
    expect(lines[3]).toContain('interrupted');
    expect(stderr).toContain(`${path.join(store.root, 'not-a-run')}`);
    expect((await store.get(crashed.id)).status).toBe('interrupted');
  });

  it('lists, shows and compares as JSON', async () => {
    const [list, show, cmp] = await Promise.all([
      kiln('list', '--json', '--home', home),
      kiln('show', a.id, '--json', '--home', home),
      kiln('compare', a.id, b.id, '--json', '--home', home),
    ]);
    expect([list.code, show.code, cmp.code]).toEqual([0, 0, 0]);
    const listed = JSON.parse(list.stdout);
    expect(listed.runs.map((r: RunRecord) => r.id)).toEqual([b.id, a.id, crashed.id]);
    expect(listed.broken.map((x: { id: string }) => x.id)).toEqual(['not-a-run']);
    const shown = JSON.parse(show.stdout);
    expect(shown.record.name).toBe('baseline');
    expect(shown.metrics.epochs.map((e: { valAcc: number }) => e.valAcc)).toEqual([0.7, 0.8, 0.9]);
    const compared = JSON.parse(cmp.stdout);
    expect(compared.configDiff).toEqual([{ path: 'opt.lrMax', values: { [a.id]: 0.4, [b.id]: 0.2 } }]);
    const accs = compared.byEpoch.map((e: { values: Record<string, { valAcc: number }> }) => [
      e.values[a.id]!.valAcc,
      e.values[b.id]!.valAcc,
    ]);
    expect(accs.flat()).toEqual([0.9 - 0.2, 0.85 - 0.2, 0.9 - 0.1, 0.85 - 0.1, 0.9, 0.85]);
    expect(compared.byStep.length).toBe(300);
  });

  it('shows one run and compares runs for a person', async () => {
    // In-process through the same dispatcher, to keep the test fast; the process boundary is covered above.
    const show = await kilnInProcess('show', a.id, '--home', home);
    const cmp = await kilnInProcess('compare', b.id, a.id, '--home', home);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^Run\s+/m);
    expect(show.stdout).toContain('lr 0.4 one-cycle');
    expect(show.stdout).toMatch(/^\s*EPOCH\s+TRAIN LOSS/m);
    expect(show.stdout).toMatch(/^\s+2\s.*90\.00%/m);
    expect(cmp.code).toBe(0);
    expect(cmp.stdout).toMatch(/^opt\.lrMax\s+0\.2\s+0\.4$/m);
    expect(cmp.stdout).toMatch(/^\s+2\s+85\.00% \/ 85\.50%\s+90\.00% \/ 90\.50%$/m);
  });

  it('renames and removes', async () => {
    const victim = await createRun(store);
    const ren = await kiln('rename', victim.id, 'lr sweep 0.8', '--home', home);
    expect(ren.code).toBe(0);
    expect((await store.get(victim.id)).name).toBe('lr sweep 0.8');
    const rm = await kiln('rm', victim.id, '--home', home);
    expect(rm.code).toBe(0);
    expect(fs.existsSync(store.runDir(victim.id))).toBe(false);
  });

  it('refuses to remove a run this test process is training (exit 1)', async () => {
    const busy = await createRun(store);
    const release = await store.acquireLock(busy.id);
    try {
      const rm = await kiln('rm', busy.id, '--home', home);
      expect(rm.code).toBe(1);
      expect(rm.stderr).toContain(`already being trained by pid ${process.pid}`);
      expect(fs.existsSync(store.runDir(busy.id))).toBe(true);
    } finally {
      await release();
    }
  });

  it('exits 2 with a one-line message for usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [[], /expected a subcommand: list, show, rm, rename, compare/],
      [['frobnicate'], /unknown subcommand "frobnicate"; expected one of: list, show, rm, rename, compare/],
      [['show', '../../etc'], /run id "..\/..\/etc": expected a run id/],
      [['show', '20990101-000000-none'], /no run "20990101-000000-none"/],
    ];
    const results = await Promise.all(cases.map(([args]) => kiln(...args, '--home', home)));
    results.forEach((r, i) => {
      expect({ args: cases[i]![0], code: r.code }).toEqual({ args: cases[i]![0], code: 2 });
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr.trimEnd().split('\n').length).toBe(1);
    });
  });

  it('treats other bad arguments as usage errors too', async () => {
    const cases: [string[], RegExp][] = [
      [['show'], /runs show: expected show <id>/],
      [['list', 'extra'], /runs list: expected list, got 1/],
      [['compare', a.id], /at least two run ids/],
      [['compare', a.id, a.id], /listed twice/],
      [['rename', a.id, ' '], /run name " ": expected 1–200 printable characters/],
      [['rename', a.id], /expected rename <id> <name>/],
      [['list', '--bogus'], /--bogus/],
      [['rm', 'a/b'], /run id "a\/b"/],
    ];
    for (const [args, message] of cases) {
      const r = await kilnInProcess(...args, '--home', home);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
    }
  });
});

async function kilnInProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await cliInProcess(['runs', ...args]);
  return { ...r, stdout: r.stdout + '\n' };
}
