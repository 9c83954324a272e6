/**
 * The import rules, as VS Code's code-layering check: every source file's imports are read (static,
 * `export … from`, dynamic `import()`, `<script>` blocks of .svelte files) and each relative one must
 * point at a layer the importing layer may use. Packages are checked too: `electron` only in the
 * Electron entry and the preload, Node built-ins and npm packages other than zod never in src-shared.
 * Tests (`*.test.ts`) sit beside the code they test but may reach further, so they are exempt.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Each layer and what it may import besides itself; the first matching prefix wins. */
const LAYERS: { layer: string; may: string[] }[] = [
  { layer: 'src-shared', may: [] },
  { layer: 'src-main/common', may: ['src-shared'] },
  { layer: 'src-main/engine', may: ['src-main/common', 'src-shared'] },
  { layer: 'src-main/datasets', may: ['src-main/common', 'src-shared'] },
  { layer: 'src-main/runs', may: ['src-main/common', 'src-shared'] },
  { layer: 'src-main/training', may: ['src-main/engine', 'src-main/datasets', 'src-main/runs', 'src-main/common', 'src-shared'] },
  { layer: 'src-main/app', may: ['src-main/training', 'src-main/engine', 'src-main/datasets', 'src-main/runs', 'src-main/common', 'src-shared'] },
  { layer: 'src-main/server', may: ['src-main/app', 'src-main/training', 'src-main/engine', 'src-main/datasets', 'src-main/runs', 'src-main/common', 'src-shared'] },
  { layer: 'src-main/cli', may: ['src-main/server', 'src-main/app', 'src-main/training', 'src-main/engine', 'src-main/datasets', 'src-main/runs', 'src-main/common', 'src-shared'] },
  { layer: 'src-main/electron', may: ['src-main/server', 'src-main/app', 'src-main/training', 'src-main/engine', 'src-main/datasets', 'src-main/runs', 'src-main/common', 'src-shared'] },
  { layer: 'src-preload', may: ['src-shared'] },
  // Build config (vite.config.ts) runs in Node; only the app itself is the renderer layer.
  { layer: 'src-renderer/src', may: ['src-shared'] },
  { layer: 'bench', may: ['src-main', 'src-shared'] },
  { layer: 'bin', may: ['src-main', 'src-shared'] },
];

/** Packages only some layers may import. */
const PACKAGE_RULES: { pkg: RegExp; only: string[] }[] = [
  { pkg: /^electron(\/|$)/, only: ['src-main/electron', 'src-preload'] },
];
/** src-shared is loaded by the sandboxed preload and the browser: schemas only, nothing Node. */
const SHARED_PACKAGES = new Set(['zod']);

const SOURCE = /\.(ts|svelte|js|mjs)$/;

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (SOURCE.test(entry.name)) out.push(p);
  }
  return out;
}

export function importsOf(text: string, file: string): string[] {
  const code = file.endsWith('.svelte') ? [...text.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n') : text;
  // Comments may quote imports; strip them (a string holding `//` is rare enough in import lines).
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  for (const m of stripped.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of stripped.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

function layerOf(rel: string): string | null {
  return LAYERS.find((l) => rel === l.layer || rel.startsWith(l.layer + '/'))?.layer ?? null;
}

function within(rel: string, prefixes: string[]): boolean {
  return prefixes.some((p) => rel === p || rel.startsWith(p + '/'));
}

export function violations(root: string): string[] {
  const found: string[] = [];
  const files = ['src-shared', 'src-main', 'src-preload', 'src-renderer', 'bench', 'bin'].filter((d) => fs.existsSync(path.join(root, d))).flatMap((d) => walk(path.join(root, d)));
  for (const file of files) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    if (/\.test\.ts$/.test(rel)) continue;
    const layer = layerOf(rel);
    if (!layer) continue;
    const may = LAYERS.find((l) => l.layer === layer)!.may;
    for (const spec of importsOf(fs.readFileSync(file, 'utf8'), rel)) {
      if (spec.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
        if (within(target, [layer]) || within(target, may)) continue;
        found.push(`${rel} imports ${target}: ${layer} may import only ${may.length ? may.join(', ') : 'itself'}`);
      } else {
        const rule = PACKAGE_RULES.find((r) => r.pkg.test(spec));
        if (rule && !within(rel, rule.only)) found.push(`${rel} imports ${spec}: only ${rule.only.join(', ')} may`);
        if (layer === 'src-shared' && !SHARED_PACKAGES.has(spec)) found.push(`${rel} imports ${spec}: src-shared may import only ${[...SHARED_PACKAGES].join(', ')}`);
        if (layer === 'src-renderer/src' && spec.startsWith('node:')) found.push(`${rel} imports ${spec}: the renderer runs in a browser`);
      }
    }
  }
  return found.sort();
}

describe('layering (dependencies point one way)', () => {
  it('every import in the sources follows the layer rules', () => {
    expect(violations(ROOT)).toEqual([]);
  });

  it('catches an engine file that imports the run store, a renderer file that imports main, and electron outside its layer', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-layering-'));
    try {
      const put = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
      };
      put('src-main/engine/train/bad.ts', "import { RunStore } from '../../runs/run-store.ts';\nexport const x = await import('../../training/x.ts');\n");
      put('src-main/engine/train/bad.test.ts', "import { RunStore } from '../../runs/run-store.ts';\n");
      put('src-main/engine/train/ok.ts', "// import { RunStore } from '../../runs/run-store.ts';\nimport { a } from '../arch/graph.ts';\nimport type { B } from '../../../src-shared/run-types.ts';\n");
      put('src-renderer/src/views/bad.svelte', "<script lang=\"ts\">\n  import type { RunRecord } from '../../../src-main/runs/run-store.ts';\n</script>\n<p>x</p>\n");
      put('src-main/app/bad.ts', "import { app } from 'electron';\n");
      put('src-shared/bad.ts', "import fs from 'node:fs';\nimport { z } from 'zod';\n");
      expect(violations(root)).toEqual([
        'src-main/app/bad.ts imports electron: only src-main/electron, src-preload may',
        'src-main/engine/train/bad.ts imports src-main/runs/run-store.ts: src-main/engine may import only src-main/common, src-shared',
        'src-main/engine/train/bad.ts imports src-main/training/x.ts: src-main/engine may import only src-main/common, src-shared',
        'src-renderer/src/views/bad.svelte imports src-main/runs/run-store.ts: src-renderer/src may import only src-shared',
        'src-shared/bad.ts imports node:fs: src-shared may import only zod',
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
