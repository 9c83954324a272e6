/**
 * The runs table in Chromium against `kiln serve`, in a 1024 px window: name, status, accuracies and time in view
 * first, each row's actions in a "⋯" menu, a column chooser remembered across reloads, a live progress column, a
 * rename refused when another run has the name, and the time estimate beside Start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../src-main/runs/run-store.ts';
import { createRun } from './fixtures/runs-fixtures.ts';
import { closeUi, openUi, poll, shot, typeInto, type UiSession } from './fixtures/ui-harness.ts';

const NARROW = { width: 1024, height: 700 };

describe('runs table in Chromium against kiln serve', () => {
  let tmp: string;
  let home: string;
  let ui: UiSession;
  let page: Page;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ui-runs-'));
    home = path.join(tmp, 'home');
    const store = new RunStore(home);
    for (const [name, acc] of [
      ['alpha', 0.81],
      ['Beta', 0.74],
    ] as const) {
      const r = await createRun(store, {}, { name });
      await store.update(r.id, {
        status: 'finished',
        final: { valAcc: acc, ttaAcc: acc + 0.01, valLoss: 0.6 },
        best: { valAcc: acc + 0.005, ttaAcc: null, epoch: 9 },
        wallSeconds: 95,
        progress: { ...r.progress, step: r.progress.totalSteps },
      });
      ids[name] = r.id;
    }
    ui = await openUi(home, NARROW);
    page = ui.page;
    await page.click('a[data-view=runs]');
    await page.locator(`tr[data-run-id="${ids.alpha}"]`).waitFor();
  });

  afterAll(async () => {
    await closeUi(ui);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const row = (name: string) => page.locator(`tr[data-run-id="${ids[name]}"]`);

  it('at 1024 px shows name, status, accuracies and time in view; the actions sit in a row menu', async () => {
    const heads = (await page.locator('[data-testid=runs-table] thead th').allTextContents()).map((t) => t.trim());
    // No run is under way: no empty progress column either.
    expect(heads.slice(0, 8)).toEqual(['Select', 'Name', 'Actions', 'Status', 'Val acc', 'Best acc', 'TTA acc', 'Time']);
    for (const col of ['valAcc', 'best', 'tta', 'time']) {
      const box = (await row('alpha').locator(`td[data-col=${col}]`).boundingBox())!;
      expect(box.x + box.width, col).toBeLessThanOrEqual(NARROW.width);
    }
    expect(await row('alpha').locator('td[data-col=valAcc]').textContent()).toBe('81.0%');
    expect(await row('alpha').locator('button:visible').allTextContents()).toEqual(['⋯']);
    await page.click('button[aria-label="Actions for alpha"]');
    expect(await page.getByRole('menuitem').allTextContents()).toEqual(['Rename…', 'Evaluate', 'Open run page', 'Delete…']);
    await shot(page, 'runs-1-menu');
    await page.keyboard.press('Escape');
    await poll(() => page.getByRole('menuitem').count()).toBe(0);
  });

  it('renames from the row menu, refusing a name another run has as run creation does', async () => {
    await page.click('button[aria-label="Actions for alpha"]');
    await page.getByRole('menuitem', { name: 'Rename…' }).click();
    await page.fill('input[aria-label="New name for alpha"]', 'beta');
    await row('alpha').locator('button:has-text("Save")').click();
    await poll(() => row('alpha').locator('[role=alert]').textContent()).toMatch(/a run named "beta" already exists/);
    await shot(page, 'runs-4-rename-taken');
    expect(JSON.parse(fs.readFileSync(path.join(home, 'runs', ids.alpha!, 'run.json'), 'utf8')).name).toBe('alpha');
    await page.fill('input[aria-label="New name for alpha"]', 'gamma');
    await row('alpha').locator('button:has-text("Save")').click();
    await poll(() => row('alpha').locator('a').textContent()).toBe('gamma');
    expect(await row('alpha').locator('[role=alert]').count()).toBe(0);
  });

  it('hides a column chosen in the column chooser, and remembers it after a reload', async () => {
    const datasetHead = page.locator('thead th[data-col=dataset]');
    expect(await datasetHead.count()).toBe(1);
    await page.click('[data-testid=column-chooser] summary');
    await shot(page, 'runs-5-columns');
    await page.locator('[data-testid=column-chooser] label:has-text("Dataset") input').uncheck();
    expect(await datasetHead.count()).toBe(0);
    await page.reload();
    await row('alpha').waitFor();
    expect(await datasetHead.count()).toBe(0);
    expect(await page.locator('thead th[data-col=valAcc]').count()).toBe(1);
  });

  it('shows a time estimate beside Start, and a running run’s epoch, step and bar in the progress column', async () => {
    await page.click('a[data-view=train]');
    // No run of this architecture and size has trained here (the seeded ones' dataset is absent): a rough figure, said so.
    await poll(() => page.locator('[data-testid=start-estimate]').textContent()).toMatch(/^(about \d+ min|under 1 min) \(rough\)$/);
    expect(await page.getAttribute('[data-testid=start-estimate]', 'title')).toMatch(/^rough guess: no run has been timed/);
    await shot(page, 'runs-3-estimate');
    await typeInto(page, '#f-cfg-limitTrain', '512');
    await typeInto(page, '#f-cfg-limitVal', '32');
    await typeInto(page, '#f-cfg-epochs', '2');
    await typeInto(page, '#f-cfg-batch', '16');
    await page.selectOption('#cfg-backend', 'wasm');
    await page.locator('button:has-text("Start training")').click();
    const live = page.locator('[data-testid=run-live]');
    await poll(() => live.getAttribute('data-status'), 60_000).toBe('running');
    const id = (await live.getAttribute('data-run-id'))!;
    await page.click('a[data-view=runs]');
    const cell = page.locator(`tr[data-run-id="${id}"] [data-testid=run-progress]`);
    expect((await page.locator('[data-testid=runs-table] thead th').allTextContents()).map((t) => t.trim()).slice(3, 6)).toEqual([
      'Status',
      'Progress',
      'Val acc',
    ]);
    const firstStep = Number(await cell.getAttribute('data-step'));
    await poll(() => cell.getAttribute('data-step').then(Number)).toBeGreaterThan(firstStep);
    expect(await cell.textContent()).toMatch(/^epoch [12]\/2 · step \d+\/64/);
    expect(await cell.locator('progress').getAttribute('value')).toMatch(/^0\.\d+/);
    // Its Time counts on between the trainer's epoch-end writes.
    const time = page.locator(`tr[data-run-id="${id}"] td[data-col=time]`);
    const seconds = async () => {
      const m = /^(?:(\d+)m )?(\d+)s$/.exec((await time.textContent())!.trim());
      return m ? Number(m[1] ?? 0) * 60 + Number(m[2]) : NaN;
    };
    const shownAt = await seconds();
    await poll(seconds, 10_000).toBeGreaterThanOrEqual(shownAt + 2);
    await shot(page, 'runs-2-running');
    await page.click(`tr[data-run-id="${id}"] a`);
    await live.locator('button:has-text("Stop…")').click();
    await live.locator('button:has-text("Stop run")').click();
    await poll(() => live.getAttribute('data-status'), 60_000).toBe('stopped');
  });

  it('raised no errors in the page', () => {
    expect(ui.pageErrors).toEqual([]);
  });
});
