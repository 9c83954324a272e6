import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DailyLog } from './daily-log.ts';

describe('DailyLog', () => {
  const homes: string[] = [];
  afterEach(() => homes.splice(0).forEach((h) => fs.rmSync(h, { recursive: true, force: true })));
  const home = () => {
    const h = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-log-'));
    homes.push(h);
    return h;
  };

  it('rotates a day file by size and keeps the total under its cap', () => {
    const log = new DailyLog(home(), { maxFileBytes: 1000, maxTotalBytes: 3500 });
    for (let i = 0; i < 200; i++) log.info(`line ${i} ${'x'.repeat(80)}`);
    const files = fs.readdirSync(log.dir);
    const sizes = files.map((f) => fs.statSync(path.join(log.dir, f)).size);
    expect(files).toContain(path.basename(log.fileFor()));
    expect(files.every((f) => /^\d{4}-\d{2}-\d{2}(\.\d+)?\.log$/.test(f))).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3500 + 1000);
    // The newest line is in the current file.
    expect(fs.readFileSync(log.fileFor(), 'utf8')).toMatch(/line 199 /);
  });

  it('deletes log files older than the age limit on first write, and leaves other files alone', () => {
    const h = home();
    const dir = path.join(h, 'logs');
    fs.mkdirSync(dir);
    const old = path.join(dir, '2020-01-01.log');
    const oldRotated = path.join(dir, '2020-01-02.3.log');
    const recent = path.join(dir, '2099-01-01.log');
    const other = path.join(dir, 'notes.txt');
    for (const f of [old, oldRotated, recent, other]) fs.writeFileSync(f, 'x\n');
    const longAgo = new Date(Date.now() - 30 * 86_400_000);
    for (const f of [old, oldRotated, other]) fs.utimesSync(f, longAgo, longAgo);
    new DailyLog(h, { maxAgeDays: 14 }).info('hello');
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(new DailyLog(h).fileFor()), '2099-01-01.log', 'notes.txt'].sort());
  });
});
