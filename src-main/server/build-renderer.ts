import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is src-main/server/build-renderer.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RENDERER_OUT_DIR = path.join(REPO_ROOT, 'out', 'renderer');

/**
 * What the renderer bundle is built from: its own folder (with the WebSocket client), src-shared (the
 * contract and the schemas the editor imports), and the lock file (dependency versions).
 */
const SOURCES = ['src-renderer', 'src-shared', 'package-lock.json'];

function newestMtime(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of fs.readdirSync(p)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(path.join(p, name)));
  }
  return newest;
}

/** Why the app needs (re)building: 'missing', 'stale', or null when out/renderer is current. */
export function rendererBuildState(root = REPO_ROOT, outDir = path.join(root, 'out', 'renderer')): 'missing' | 'stale' | null {
  const index = path.join(outDir, 'index.html');
  if (!fs.existsSync(index)) return 'missing';
  const built = fs.statSync(index).mtimeMs;
  return SOURCES.some((s) => newestMtime(path.join(root, s)) > built) ? 'stale' : null;
}

/**
 * Build the Svelte app into out/renderer with vite (a child process, so its output and memory stay
 * out of the caller). It builds into a temp folder and swaps it in, so a server or a second builder
 * never sees half a build. Throws with what to do when vite is not installed.
 */
export async function buildRenderer(root = REPO_ROOT, outDir = path.join(root, 'out', 'renderer')): Promise<void> {
  let viteBin: string;
  try {
    viteBin = path.join(path.dirname(createRequire(path.join(root, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    throw new Error(
      'the app is not built and vite (a dev dependency) is not installed: run `npm install` in the Kiln folder (without --omit=dev)',
    );
  }
  const tmp = path.join(path.dirname(outDir), `.renderer-${crypto.randomBytes(4).toString('hex')}`);
  const args = [
    viteBin,
    'build',
    '--config',
    path.join(root, 'src-renderer', 'vite.config.ts'),
    '--outDir',
    tmp,
    '--emptyOutDir',
    '--logLevel',
    'error',
  ];
  const output: string[] = [];
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (b: Buffer) => output.push(b.toString()));
      child.stderr.on('data', (b: Buffer) => output.push(b.toString()));
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0 || !fs.existsSync(path.join(tmp, 'index.html'))) {
      throw new Error(`building the app failed (vite exited with ${code}):\n${output.join('').trim().split('\n').slice(-15).join('\n')}`);
    }
    const old = `${tmp}-old`;
    await fs.promises.rename(outDir, old).catch(() => {});
    try {
      await fs.promises.rename(tmp, outDir);
    } catch (err) {
      // Another builder swapped its build in first; theirs is as good as ours.
      if (!fs.existsSync(path.join(outDir, 'index.html'))) throw err;
    }
    await fs.promises.rm(old, { recursive: true, force: true });
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Build the app when out/renderer is missing or older than its sources (a fresh clone, or after an
 * update). Returns the seconds spent building, or null when the build was current.
 */
export async function ensureRendererBuilt(
  onBuild: (why: 'missing' | 'stale') => void = () => {},
  root = REPO_ROOT,
): Promise<number | null> {
  const why = rendererBuildState(root);
  if (!why) return null;
  onBuild(why);
  const start = performance.now();
  await buildRenderer(root);
  return (performance.now() - start) / 1000;
}
