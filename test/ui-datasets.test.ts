/**
 * The dataset views end to end: real Chromium (playwright-core) against a real `kiln serve` child process
 * with its real services, importing and uploading a small folder of PNGs this test draws, and CIFAR-10 from
 * a tarball. Screenshots of each view go to test/screenshots/ (git-ignored) for a person to look at.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCifar10Tarball } from './fixtures/cifar10-tarball.ts';
import { closeUi, openUi, poll, shot, type UiSession } from './fixtures/ui-harness.ts';
import { CLASSES, drawFolder, PER_CLASS, VAL_SPLIT } from './fixtures/ui-shapes.ts';

describe('datasets in Chromium against kiln serve', () => {
  let tmp: string;
  let folder: string;
  let ui: UiSession;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ui-ds-'));
    folder = path.join(tmp, 'shapes');
    await drawFolder(folder);
    ui = await openUi(path.join(tmp, 'home'), undefined, { consoleErrors: true, timeout: 60_000 });
    ({ page, pageErrors } = ui);
  });

  afterAll(async () => {
    await closeUi(ui);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('imports a folder of images and browses it', async () => {
    await page.click('a[data-view=datasets]');
    // An empty path says what to do in a browser; a wrong path keeps what was typed.
    await page.click('button:has-text("Import folder")');
    await poll(() => page.locator('#import-folder ~ [role=alert], .path [role=alert]').first().textContent()).toMatch(/upload one/);
    const missing = path.join(tmp, 'no-such-folder');
    await page.fill('#import-folder', missing);
    await page.click('button:has-text("Import folder")');
    await poll(() => page.locator('.import [role=alert]').first().textContent()).toMatch(/does not exist/);
    expect(await page.locator('#import-folder').inputValue()).toBe(missing);
    // A flat folder of images is told what layout Kiln expects as the path is typed, before Import.
    const flat = path.join(tmp, 'flat');
    fs.mkdirSync(flat, { recursive: true });
    fs.copyFileSync(path.join(folder, 'reds', '000.png'), path.join(flat, '000.png'));
    await page.fill('#import-folder', flat);
    await poll(() => page.locator('.import [role=alert]').first().textContent()).toMatch(/expected one sub-folder per class/);
    await page.fill('#import-folder', folder);
    // The bad path's error goes once a good one is typed.
    await poll(() => page.locator('.import [role=alert]').count()).toBe(0);
    // Before Import, the form says the size the import would pick from the images, and why.
    const sizeNote = page.locator('[data-testid=import-size-note]');
    // broken.png counts as a file until it fails to decode.
    const files = CLASSES.length * PER_CLASS + 1;
    // …and what that takes: raw RGB, 32·32·3 bytes an image, on disk and in memory while a run trains.
    await poll(() => sizeNote.textContent()).toBe(
      `3 classes, ${files} files. Kiln stores them at 32×32 px (small images: median short side 32 px). Type another size to change it. ` +
        `${files} images at 32×32 px: about ${((files * 32 * 32 * 3) / 1000).toFixed(1)} kB on disk, and as much in memory while a run trains.`,
    );
    expect(await page.inputValue('#f-import-size')).toBe('32');
    await page.fill('#import-name', 'shapes');
    await page.fill('#f-import-val', String(VAL_SPLIT));
    // 16 px keeps the two training runs below short on a shared 2-core machine.
    await page.fill('#f-import-size', '16');
    expect(await sizeNote.textContent()).toContain('you chose 16 px');
    expect(await sizeNote.textContent()).toContain(
      `${files} images at 16×16 px: about ${((files * 16 * 16 * 3) / 1000).toFixed(1)} kB on disk`,
    );
    await page.click('button:has-text("Import folder")');
    const task = page.locator('[data-testid=task-import]');
    await poll(() => task.getAttribute('data-phase'), 60_000).toBe('done');
    await poll(() => task.textContent()).toContain('1 files skipped');
    expect(await task.locator('[data-testid=task-size]').textContent()).toBe(
      'Stored at 16×16 px as chosen (small images: median short side 32 px)',
    );
    // The earlier error is gone once an import went through.
    expect(await page.locator('.import [role=alert]').count()).toBe(0);
    await task.locator('button:has-text("Open")').click();
    await task.locator('button:has-text("Dismiss")').click();
    // A second dataset of the same name is refused at once.
    await page.fill('#import-folder', folder);
    await page.fill('#import-name', 'Shapes');
    await page.click('button:has-text("Import folder")');
    await poll(() => page.locator('.import [role=alert]').first().textContent()).toMatch(/named "shapes" exists already/);

    const detail = page.locator('[data-testid=dataset-detail]');
    await poll(() => detail.locator('h2').textContent()).toBe('shapes');
    const valCount = Math.round(PER_CLASS * VAL_SPLIT);
    const classButtons = page.locator('ul[aria-label=Classes] button');
    expect(await classButtons.count()).toBe(3);
    // Classes come back in name order, each with its share of training images.
    expect((await classButtons.allTextContents()).map((t) => t.replace(/\s+/g, '').trim())).toEqual(
      [...CLASSES].sort().map((c) => `${c}${PER_CLASS - valCount}`),
    );
    // The grid shows this class's images as real PNGs.
    await poll(() => page.locator('[data-testid=image-grid] img').count()).toBe(PER_CLASS - valCount);
    await page.click('ul[aria-label=Classes] button:has-text("greens")');
    await poll(() => page.locator('.images h3').textContent()).toContain('greens');
    const first = page.locator('[data-testid=image-grid] button').first();
    await poll(() => first.locator('img').count()).toBe(1);
    await first.click();
    await poll(() => page.locator('dialog[open] b').textContent()).toBe('greens');
    const natural = await page.locator('dialog[open] img').evaluate((img: HTMLImageElement) => img.naturalWidth);
    expect(natural).toBe(16);
    await shot(page, '1-dataset-image');
    // Curating: a training image is left out of new runs from its dialog, and restored from the Excluded view.
    await page.click('dialog[open] button:has-text("Exclude from new runs")');
    await poll(() => page.locator('dialog[open] button:has-text("Excluded — restore")').count()).toBe(1);
    await page.keyboard.press('Escape');
    await poll(() => page.locator('[data-testid=excluded-summary]').textContent()).toMatch(
      /^1 training and 0 validation images are excluded/,
    );
    await page.click('[data-testid=excluded-summary] button');
    await poll(() => page.locator('[data-testid=excluded-list] li').count()).toBe(1);
    expect(await page.locator('[data-testid=excluded-list] li small').textContent()).toMatch(/^greens · train #\d+$/);
    await shot(page, '1-dataset-excluded');
    await page.click('[data-testid=excluded-list] button:has-text("Restore")');
    await poll(() => page.locator('[data-testid=excluded-summary]').count()).toBe(0);
    await shot(page, '1-datasets');
  });

  it('uploads a folder from the browser and imports it like a local one', async () => {
    await page.fill('#import-name', 'shapes-upload');
    await page.fill('#f-import-size', '16');
    await page.fill('#f-import-val', String(VAL_SPLIT));
    // <input webkitdirectory>: the browser hands over the files with their paths below the chosen folder.
    await page.setInputFiles('#upload-folder', folder);
    const task = page.locator('[data-testid=task-import]');
    await poll(() => task.getAttribute('data-phase'), 60_000).toBe('done');
    await poll(() => task.textContent()).toContain('1 files skipped');
    expect(await task.textContent()).toContain('(uploaded)');
    await task.locator('button:has-text("Open")').click();
    const detail = page.locator('[data-testid=dataset-detail]');
    await poll(() => detail.locator('h2').textContent()).toBe('shapes-upload');
    // The source it names is the folder the person chose, not the server's temporary copy.
    expect(await detail.textContent()).toContain('uploaded from a browser: shapes (class-folders');
    const valCount = Math.round(PER_CLASS * VAL_SPLIT);
    expect((await page.locator('ul[aria-label=Classes] button').allTextContents()).map((t) => t.replace(/\s+/g, ''))).toEqual(
      [...CLASSES].sort().map((c) => `${c}${PER_CLASS - valCount}`),
    );
    // The uploaded copy is gone once imported.
    const uploads = path.join(tmp, 'home', 'tmp', 'uploads');
    await poll(() => (fs.existsSync(uploads) ? fs.readdirSync(uploads).length : 0)).toBe(0);
    await task.locator('button:has-text("Dismiss")').click();
  });

  it('cancels an upload and leaves nothing behind', async () => {
    // 24 MB of files (not images: the import never runs), so the upload is still going when Cancel is pressed.
    const big = path.join(tmp, 'big');
    fs.mkdirSync(path.join(big, 'noise'), { recursive: true });
    const bytes = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 96; i++) fs.writeFileSync(path.join(big, 'noise', `${i}.bin`), bytes);
    await page.fill('#import-name', 'big-upload');
    await page.setInputFiles('#upload-folder', big);
    await poll(() => page.locator('[data-testid=upload]').count()).toBe(1);
    await page.click('button:has-text("Cancel upload")');
    await poll(() => page.textContent('[data-testid=upload-note]')).toContain('Upload cancelled');
    const uploads = path.join(tmp, 'home', 'tmp', 'uploads');
    await poll(() => (fs.existsSync(uploads) ? fs.readdirSync(uploads).length : 0)).toBe(0);
    expect(await page.locator('[data-testid=dataset-list] a:has-text("big-upload")').count()).toBe(0);
    await page.fill('#import-name', '');
  });

  it("adds CIFAR-10 from a tarball on the server's disk, checksum-verified, from the download form", async () => {
    const tarball = makeCifar10Tarball(path.join(tmp, 'cifar-src'), 10);
    await page.click('summary:has-text("Other sources")');
    await page.fill('#cifar-file', tarball.file);
    // A wrong checksum is refused and the file is left where it is.
    await page.fill('#cifar-sum', 'ab'.repeat(32));
    await page.click('[data-testid=cifar10-download]:has-text("Add CIFAR-10 from the file")');
    const task = page.locator('[data-testid=task-download]');
    await poll(() => task.getAttribute('data-phase'), 30_000).toBe('error');
    await poll(() => task.textContent()).toContain(`got ${tarball.sha256}`);
    await task.locator('button:has-text("Dismiss")').click();
    await page.fill('#cifar-sum', tarball.sha256);
    await page.click('[data-testid=cifar10-download]');
    await poll(() => task.getAttribute('data-phase'), 30_000).toBe('done');
    expect(fs.existsSync(tarball.file)).toBe(true);
    await poll(() => page.locator('[data-testid=dataset-list] a:has-text("CIFAR-10")').count()).toBe(1);
    await task.locator('button:has-text("Dismiss")').click();
  });

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
