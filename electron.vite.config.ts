import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { defineConfig as defineElectronConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const at = (p: string) => fileURLToPath(new URL(p, import.meta.url));
// Where the build goes: out/ (package.json's main, electron-builder's default). The packaging test builds elsewhere
// (KILN_BUILD_OUT) so it never swaps out/renderer under a test that serves it.
const outDir = (part: string) => path.join(process.env.KILN_BUILD_OUT ? path.resolve(process.env.KILN_BUILD_OUT) : at('./out'), part);
const version = (JSON.parse(fs.readFileSync(at('./package.json'), 'utf8')) as { version: string }).version;

/**
 * version.ts reads ../../package.json at run time, relative to its own file: right for the sources,
 * wrong for a bundled chunk in out/main/chunks/. The bundle gets the version as a constant.
 */
const kilnVersion: Plugin = {
  name: 'kiln-version',
  load(id) {
    if (id.replace(/\\/g, '/').endsWith('/src-main/common/version.ts')) return `export const KILN_VERSION = ${JSON.stringify(version)};\n`;
    return null;
  },
};

/**
 * Some sources declare `const require = createRequire(import.meta.url)`; bundled into one chunk next to
 * electron-vite's own CommonJS shim (which declares `require` too) that is a SyntaxError at load.
 * Renaming the local binding keeps both.
 */
const localRequire: Plugin = {
  name: 'kiln-local-require',
  transform(code) {
    if (!/\bconst require = createRequire\(/.test(code)) return null;
    return { code: code.replace(/(?<![.\w$])require(?=\s*[(.]|\s*=\s*createRequire\()/g, 'kilnLocalRequire'), map: null };
  },
};

/**
 * `npm run build` → out/main (the main process and the two child-process entries, ESM, dependencies
 * left in node_modules), out/preload/index.cjs (one self-contained CommonJS file, as a sandboxed
 * preload must be), out/renderer (the Svelte app, the same build `kiln serve` serves).
 */
export default defineElectronConfig({
  main: {
    plugins: [kilnVersion, localRequire],
    build: {
      outDir: outDir('main'),
      externalizeDeps: true,
      rollupOptions: {
        input: {
          index: at('./src-main/electron/main.ts'),
          // utilityProcess.fork needs files of their own: trainers, and heavy jobs (LR finder, eval, export, predict).
          'trainer-entry': at('./src-main/training/trainer-entry.ts'),
          'job-entry': at('./src-main/app/job-entry.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: outDir('preload'),
      externalizeDeps: false,
      isolatedEntries: true,
      rollupOptions: {
        input: { index: at('./src-preload/index.ts'), 'gpu-trainer': at('./src-preload/gpu-trainer.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: at('./src-renderer'),
    base: './',
    plugins: [svelte()],
    build: {
      outDir: outDir('renderer'),
      emptyOutDir: true,
      target: 'es2022',
      // The app, and the hidden page that trains GPU runs on Chromium's WebGPU (src-main/training/gpu).
      rollupOptions: { input: { index: at('./src-renderer/index.html'), 'gpu-trainer': at('./src-renderer/gpu-trainer.html') } },
    },
  },
});
