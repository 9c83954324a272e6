import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rendererBuildState } from './build-renderer.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-build-state-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function touch(rel: string, secondsAgo: number): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, 'x');
  const t = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(file, t, t);
}

describe('rendererBuildState (kiln serve builds the app when this says so)', () => {
  it('is missing on a fresh clone, current after a build, stale when a source the bundle imports changes', () => {
    touch('src-renderer/src/app.svelte', 100);
    touch('src-shared/contract.ts', 100);
    touch('src-shared/arch-spec.ts', 100);
    // Folders get their own mtimes when files are created; age them too.
    for (const d of ['src-renderer/src', 'src-renderer', 'src-shared']) touch(d, 100);
    expect(rendererBuildState(root)).toBe('missing');

    touch('out/renderer/index.html', 50);
    expect(rendererBuildState(root)).toBeNull();

    // Files the bundle does not contain (the trainer, tests) do not make it stale.
    touch('src-main/engine/train/learner.ts', 10);
    expect(rendererBuildState(root)).toBeNull();

    touch('src-shared/contract.ts', 10);
    expect(rendererBuildState(root)).toBe('stale');
    touch('out/renderer/index.html', 5);
    touch('src-shared/arch-spec.ts', 1);
    expect(rendererBuildState(root)).toBe('stale');
  });
});
