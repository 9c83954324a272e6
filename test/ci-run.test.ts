import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './fixtures/runs-fixtures.ts';

/** .ci/run's npm_install, run with a stand-in `npm` that fails as told: it retries npm's tracker error once, nothing else. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-run-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function npmInstall(failures: string[]): { status: number | null; calls: string[] } {
  const calls = path.join(dir, `calls-${Math.random().toString(36).slice(2)}`);
  const script = [
    '#!/usr/bin/env bash',
    `echo "$*" >> ${JSON.stringify(calls)}`,
    `n=$(wc -l < ${JSON.stringify(calls)})`,
    ...failures.map((msg, i) => `if [ "$n" = ${i + 1} ]; then echo ${JSON.stringify(msg)} >&2; exit 1; fi`),
    'echo "added 1 package"',
  ].join('\n');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'bin', 'npm'), script, { mode: 0o755 });
  const r = spawnSync('bash', ['-c', `set -euo pipefail; eval "$(sed -n '/^npm_install() {/,/^}/p' .ci/run)"; npm_install --no-audit`], {
    cwd: REPO,
    env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` },
    encoding: 'utf8',
  });
  return { status: r.status, calls: fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [] };
}

describe('.ci/run npm_install', () => {
  it('retries once when npm fails with "Tracker \\"idealTree\\" already exists"', () => {
    expect(npmInstall(['npm error Tracker "idealTree" already exists'])).toEqual({
      status: 0,
      calls: ['install --no-audit', 'install --no-audit'],
    });
  });
  it('fails at once on any other error, and after a second tracker error', () => {
    expect(npmInstall(['npm error code E404'])).toEqual({ status: 1, calls: ['install --no-audit'] });
    expect(npmInstall(['npm error Tracker "idealTree" already exists', 'npm error Tracker "idealTree" already exists']).status).toBe(1);
  });
});
