import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const at = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * `npm run build` → out/main (the main process and the two child-process entries, ESM, dependencies
 * left in node_modules), out/preload/index.cjs (one self-contained CommonJS file, as a sandboxed
 * preload must be), out/renderer (the Svelte app, the same build `kiln serve` serves).
 */
export default defineConfig({
  main: {
    build: {
      outDir: at('./out/main'),
      externalizeDeps: true,
      rollupOptions: {
        input: {
          index: at('./src-main/electron/main.ts'),
          // utilityProcess.fork needs files of their own: trainers, and heavy jobs (LR finder, eval, export, predict).
          'trainer-entry': at('./src-main/engine/trainer/trainer-entry.ts'),
          'job-entry': at('./src-main/app/job-entry.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: at('./out/preload'),
      externalizeDeps: false,
      isolatedEntries: true,
      rollupOptions: {
        input: { index: at('./src-preload/index.ts') },
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
      outDir: at('./out/renderer'),
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: { input: at('./src-renderer/index.html') },
    },
  },
});
