/**
 * Moving an image to another class from the dataset browser's image dialog, in Chromium against `kiln serve`:
 * it is listed as moved, the class counts follow, and Undo takes it back. A tiny stored dataset.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPets } from './fixtures/tiny-dataset.ts';
import { closeUi, openUi, poll, type UiSession } from './fixtures/ui-harness.ts';

describe('move an image to another class in Chromium', () => {
  let home: string;
  let ui: UiSession;
  let page: Page;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ui-move-'));
    await createPets(home, 8, 4);
    ui = await openUi(home);
    page = ui.page;
  });

  afterAll(async () => {
    await closeUi(ui);
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('moves a cat to dog from its dialog, lists it, and undoes it', async () => {
    await page.click('a[data-view=datasets]');
    await page.click('[data-testid=dataset-list] a:has-text("Pets")');
    const classButtons = page.locator('ul[aria-label=Classes] button');
    await poll(async () => (await classButtons.allTextContents()).map((t) => t.replace(/\s+/g, ''))).toEqual(['cat4', 'dog4']);
    const first = page.locator('[data-testid=image-grid] button').first();
    await poll(() => first.locator('img').count()).toBe(1);
    await first.click();
    await poll(() => page.locator('dialog[open] b').textContent()).toBe('cat');
    await page.selectOption('dialog[open] select[aria-label="Move to class"]', '1');
    await page.click('dialog[open] button:has-text("Move")');
    await poll(() => page.locator('[data-testid=moved-list] li small').textContent()).toBe('Moved: train #0 (cat) → dog');
    await page.keyboard.press('Escape');
    await poll(async () => (await classButtons.allTextContents()).map((t) => t.replace(/\s+/g, ''))).toEqual(['cat3', 'dog5']);
    const stored = JSON.parse(fs.readFileSync(path.join(home, 'datasets', 'pets', 'moved.json'), 'utf8'));
    expect(stored.train).toEqual([{ index: 0, from: 0, to: 1 }]);
    await page.click('[data-testid=moved-list] button:has-text("Undo")');
    await poll(() => page.locator('[data-testid=moved-list]').count()).toBe(0);
    expect(ui.pageErrors).toEqual([]);
  });
});
