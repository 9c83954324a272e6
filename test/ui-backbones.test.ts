/**
 * Pretrained backbones in the app, in Chromium against `kiln serve`: the Backbones list (here or not, size,
 * licence), Download behind the licence note, "Add a file…" with a full-size MobileNetV2 file of random weights
 * (refused as unpinned, then added unverified: names and shapes checked), and a fast run from it chosen under
 * "Start from" on a small slice of the synthetic shapes, which finishes.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRendererBuilt } from '../src-main/server/build-renderer.ts';
import { BASE_VIEWPORT, launchChromium, poll, SHOTS, shot, startServer, stopServer } from './fixtures/ui-harness.ts';
import { torchTensorsOfBackbone, writeSafetensors } from './fixtures/safetensors-writer.ts';

describe('backbones in Chromium against kiln serve', () => {
  let tmp: string;
  let home: string;
  let weights: string;
  let server: ChildProcess;
  let url: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureRendererBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ui-backbones-'));
    home = path.join(tmp, 'home');
    weights = path.join(tmp, 'mobilenetv2-random.safetensors');
    // Small seeded values; BN running variances 1, so the network's numbers stay sane.
    let s = 5;
    writeSafetensors(weights, torchTensorsOfBackbone('mobilenetv2'), (name, n) =>
      Float32Array.from({ length: n }, () =>
        name.endsWith('running_var') ? 1 : ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.1,
      ),
    );
    fs.mkdirSync(SHOTS, { recursive: true });
    ({ child: server, url } = await startServer(home));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: BASE_VIEWPORT, colorScheme: 'light' });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(30_000);
    await page.goto(url);
    await page.click('a[data-view=architecture]');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopServer(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const row = (name: string) => page.locator(`tr[data-backbone=${name}]`);

  it('lists the known backbones, none here yet, with size and licence; Download shows the licence note first', async () => {
    await poll(() => page.locator('tr[data-backbone]').count()).toBe(3);
    for (const name of ['resnet18', 'resnet50', 'mobilenetv2']) expect(await row(name).getAttribute('data-cached')).toBe('false');
    expect(await row('mobilenetv2').textContent()).toMatch(/224 px.*MiB.*Apache-2\.0.*not here/s);
    await row('mobilenetv2').locator('button:has-text("Download")').click();
    const note = page.locator('[data-testid=licence-note]');
    expect(await note.textContent()).toMatch(/ImageNet.*non-commercial/s);
    await shot(page, 'backbones-1-licence');
    await note.locator('button:has-text("Cancel")').click();
    expect(await note.count()).toBe(0);
  });

  it('adds a local file: refused when it is not the pinned one, added unverified when asked', async () => {
    await page.click('button:has-text("Add a file…")');
    await page.selectOption('#bb-add-name', 'mobilenetv2');
    await page.fill('#bb-add-path', weights);
    await page.click('form.add button:has-text("Add")');
    await poll(() => page.locator('[data-testid=backbones] [role=alert]').first().textContent()).toMatch(/SHA-256.*--unverified/);
    await page.check('form.add input[type=checkbox]');
    await page.click('form.add button:has-text("Add")');
    await poll(() => row('mobilenetv2').getAttribute('data-cached'), 60_000).toBe('true');
    expect(await row('mobilenetv2').locator('[data-testid=backbone-state]').textContent()).toBe('added, unverified');
    expect(fs.existsSync(path.join(home, 'backbones', 'mobilenetv2', 'model.safetensors'))).toBe(true);
    await shot(page, 'backbones-2-added');
  });

  it('starts a fast run from the backbone under "Start from", which finishes', async () => {
    await page.click('a[data-view=train]');
    await page.selectOption('#cfg-initFrom', 'imagenet:mobilenetv2');
    // The synthetic shapes are 32 px: the form says the backbone saw 224.
    await poll(() => page.locator('[data-testid=backbone-size-note]').textContent()).toMatch(/32 px.*224 px/);
    await page.selectOption('#cfg-transfer', 'fast');
    await page.fill('#f-cfg-limitTrain', '120');
    await page.fill('#f-cfg-limitVal', '60');
    await page.fill('#f-cfg-epochs', '5');
    await poll(() => page.locator('button:has-text("Start training")').isEnabled()).toBe(true);
    await page.click('button:has-text("Start training")');
    await poll(() => page.getAttribute('[data-testid=run-live]', 'data-status'), 120_000).toBe('finished');
    const runs = fs.readdirSync(path.join(home, 'runs')).filter((d) => !d.startsWith('.'));
    const record = JSON.parse(fs.readFileSync(path.join(home, 'runs', runs[0]!, 'run.json'), 'utf8'));
    expect(record.resolved.config.backbone).toMatchObject({ name: 'mobilenetv2', mode: 'fast', verified: false });
    await shot(page, 'backbones-3-run');
  }, 180_000);

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
