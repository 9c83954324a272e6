import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DailyLog } from '../app/daily-log.ts';
import { ProcessGoneLog } from './process-gone.ts';

describe("Chromium's account of child processes that went", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-gone-'));
  const log = new DailyLog(home);
  const gone = new ProcessGoneLog(log);
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
  const utility = (name: string, reason: string, exitCode: number) => ({
    type: 'Utility',
    reason,
    exitCode,
    serviceName: 'node.mojom.NodeService',
    name,
  });

  it("answers a process's reason whether Chromium reports it before or after the process's own exit", async () => {
    gone.childGone(utility('Kiln trainer 1', 'oom', 9));
    expect(await gone.reasonFor('Kiln trainer 1')).toBe('oom');
    const asked = gone.reasonFor('Kiln trainer 2');
    setTimeout(() => gone.childGone(utility('Kiln trainer 2', 'crashed', 11)), 20);
    expect(await asked).toBe('crashed');
  });

  it('gives up after the grace period, and logs every abnormal end but clean exits', async () => {
    expect(await gone.reasonFor('Kiln job 3', 30)).toBeUndefined();
    gone.childGone({ type: 'GPU', reason: 'launch-failed', exitCode: 1002 });
    gone.childGone(utility('Kiln job 4', 'clean-exit', 0));
    const text = fs.readFileSync(log.fileFor(), 'utf8');
    expect(text).toContain('Utility process "Kiln trainer 1" is gone: reason oom, exit code 9');
    expect(text).toContain('GPU process is gone: reason launch-failed, exit code 1002');
    expect(text).not.toContain('Kiln job 4');
  });
});
