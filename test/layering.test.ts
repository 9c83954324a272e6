/**
 * The import rules, as VS Code's code-layering check: every source file's imports are read (static,
 * `export … from`, dynamic `import()`, `<script>` blocks of .svelte files) and each relative one must
 * point at a layer the importing layer may use. Packages are checked too: `electron` only in the
 * Electron entry and the preload, Node built-ins and npm packages other than zod never in src-shared.
 * Inside `src-main/engine` the sub-folders are layered too (ENGINE_TIERS, lowest first), and no
 * source file may reach itself through its imports (a circle), whatever the layers say.
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
  // Pretrained weights in the Kiln home: the engine's registry and loader, the datasets' resumable download.
  { layer: 'src-main/backbones', may: ['src-main/engine', 'src-main/datasets', 'src-main/common', 'src-shared'] },
  {
    layer: 'src-main/training',
    may: ['src-main/backbones', 'src-main/engine', 'src-main/datasets', 'src-main/runs', 'src-main/common', 'src-shared'],
  },
  {
    layer: 'src-main/app',
    may: [
      'src-main/training',
      'src-main/backbones',
      'src-main/engine',
      'src-main/datasets',
      'src-main/runs',
      'src-main/common',
      'src-shared',
    ],
  },
  {
    layer: 'src-main/server',
    may: [
      'src-main/app',
      'src-main/training',
      'src-main/backbones',
      'src-main/engine',
      'src-main/datasets',
      'src-main/runs',
      'src-main/common',
      'src-shared',
    ],
  },
  {
    layer: 'src-main/cli',
    may: [
      'src-main/server',
      'src-main/app',
      'src-main/training',
      'src-main/backbones',
      'src-main/engine',
      'src-main/datasets',
      'src-main/runs',
      'src-main/common',
      'src-shared',
    ],
  },
  {
    layer: 'src-main/electron',
    may: [
      'src-main/server',
      'src-main/app',
      'src-main/training',
      'src-main/backbones',
      'src-main/engine',
      'src-main/datasets',
      'src-main/runs',
      'src-main/common',
      'src-shared',
    ],
  },
  { layer: 'src-preload', may: ['src-shared'] },
  // Build config (vite.config.ts) runs in Node; only the app itself is the renderer layer.
  { layer: 'src-renderer/src', may: ['src-shared'] },
  // Benchmarks drive the app as its clients and tests do: the renderer's API client and the test fixtures too.
  { layer: 'bench', may: ['src-main', 'src-shared', 'src-renderer/src/lib', 'test/fixtures'] },
  { layer: 'bin', may: ['src-main', 'src-shared'] },
];

/**
 * The engine's own layers, lowest first: a sub-folder may import its own files and those of lower
 * tiers, never a sibling of its tier or anything above. Layers carry their ONNX emission
 * (layers/onnx-emit.ts), so onnx/ sits above them and nothing points back down-up.
 */
const ENGINE = 'src-main/engine';
const ENGINE_TIERS: string[][] = [
  ['util', 'testing'],
  ['ops'],
  ['backend', 'data'],
  ['layers'],
  ['arch'],
  ['model'],
  ['onnx'],
  ['train'],
  // ImageNet backbones: registry, safetensors reader, PyTorch weight mapping (they build graphs and fill models).
  ['backbones'],
];

/** Packages only some layers may import. */
const PACKAGE_RULES: { pkg: RegExp; only: string[] }[] = [{ pkg: /^electron(\/|$)/, only: ['src-main/electron', 'src-preload'] }];
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

/** An engine file's sub-folder ('' for a file directly in engine/, which belongs to no tier). */
function engineFolder(rel: string): string {
  const parts = rel.slice(ENGINE.length + 1).split('/');
  return parts.length > 1 ? parts[0]! : '';
}

function engineTier(folder: string): number {
  return ENGINE_TIERS.findIndex((t) => t.includes(folder));
}

/** The engine-internal rule for one import, or null when it keeps it. */
function engineViolation(rel: string, target: string): string | null {
  if (!within(rel, [ENGINE]) || !within(target, [ENGINE])) return null;
  const from = engineFolder(rel);
  const to = engineFolder(target);
  if (from === to && from !== '') return null;
  const fromTier = engineTier(from);
  const toTier = engineTier(to);
  if (fromTier < 0) return `${rel}: engine files belong in one of its sub-folders (${ENGINE_TIERS.flat().join(', ')})`;
  if (toTier >= 0 && toTier < fromTier) return null;
  const lower = ENGINE_TIERS.slice(0, fromTier).flat();
  return `${rel} imports ${target}: engine/${from} may import only ${lower.length ? lower.map((f) => `engine/${f}`).join(', ') : 'itself'}`;
}

/** Every source file (tests excluded) with the files its relative imports point at. */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = ['src-shared', 'src-main', 'src-preload', 'src-renderer', 'bench', 'bin']
    .filter((d) => fs.existsSync(path.join(root, d)))
    .flatMap((d) => walk(path.join(root, d)));
  for (const file of files) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    if (/\.test\.ts$/.test(rel)) continue;
    graph.set(rel, importsOf(fs.readFileSync(file, 'utf8'), rel));
  }
  return graph;
}

/**
 * Circles among the files of an import graph (Tarjan's strongly connected components), each as
 * `a → b → … → a` along real edges. Type-only imports count: a circle of types is still two
 * files that cannot be understood (or moved) one without the other.
 */
export function circles(graph: Map<string, string[]>): string[] {
  const edges = new Map<string, string[]>();
  for (const [file, specs] of graph) {
    const targets = specs.filter((s) => s.startsWith('.')).map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)));
    edges.set(file, [...new Set(targets.filter((t) => graph.has(t) && t !== file))]);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const members = new Set<string>();
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      members.add(w);
    } while (w !== v);
    if (members.size > 1) found.push(describeCircle(members, edges));
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return found.sort();
}

/** One path round a component, from its first file (sorted) back to it, by breadth-first search. */
function describeCircle(members: Set<string>, edges: Map<string, string[]>): string {
  const start = [...members].sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of [...edges.get(v)!].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const trail = [v];
        while (trail[0] !== start) trail.unshift(prev.get(trail[0]!)!);
        return `import circle: ${[...trail, start].join(' → ')}`;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return `import circle among ${[...members].sort().join(', ')}`;
}

export function violations(root: string): string[] {
  const found: string[] = [];
  const graph = importGraph(root);
  for (const [rel, specs] of graph) {
    const layer = layerOf(rel);
    if (!layer) continue;
    const may = LAYERS.find((l) => l.layer === layer)!.may;
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
        const inEngine = engineViolation(rel, target);
        if (inEngine) found.push(inEngine);
        if (within(target, [layer]) || within(target, may)) continue;
        found.push(`${rel} imports ${target}: ${layer} may import only ${may.length ? may.join(', ') : 'itself'}`);
      } else {
        const rule = PACKAGE_RULES.find((r) => r.pkg.test(spec));
        if (rule && !within(rel, rule.only)) found.push(`${rel} imports ${spec}: only ${rule.only.join(', ')} may`);
        if (layer === 'src-shared' && !SHARED_PACKAGES.has(spec))
          found.push(`${rel} imports ${spec}: src-shared may import only ${[...SHARED_PACKAGES].join(', ')}`);
        if (layer === 'src-renderer/src' && spec.startsWith('node:')) found.push(`${rel} imports ${spec}: the renderer runs in a browser`);
      }
    }
  }
  found.push(...circles(graph));
  return [...new Set(found)].sort();
}

/** Runs `check` on a throwaway tree that `put` fills with files, removed afterwards. */
function inTree(check: (root: string, put: (rel: string, text: string) => void) => void): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-layering-'));
  try {
    check(root, (rel, text) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

describe('layering (dependencies point one way)', () => {
  it('every import in the sources follows the layer rules', () => {
    expect(violations(ROOT)).toEqual([]);
  });

  it('catches an engine file that imports the run store, a renderer file that imports main, and electron outside its layer', () => {
    inTree((root, put) => {
      put(
        'src-main/engine/train/bad.ts',
        "import { RunStore } from '../../runs/run-store.ts';\nexport const x = await import('../../training/x.ts');\n",
      );
      put('src-main/engine/train/bad.test.ts', "import { RunStore } from '../../runs/run-store.ts';\n");
      put(
        'src-main/engine/train/ok.ts',
        "// import { RunStore } from '../../runs/run-store.ts';\nimport { a } from '../arch/graph.ts';\nimport type { B } from '../../../src-shared/run-types.ts';\n",
      );
      put(
        'src-renderer/src/views/bad.svelte',
        '<script lang="ts">\n  import type { RunRecord } from \'../../../src-main/runs/run-store.ts\';\n</script>\n<p>x</p>\n',
      );
      put('src-main/app/bad.ts', "import { app } from 'electron';\n");
      put('src-shared/bad.ts', "import fs from 'node:fs';\nimport { z } from 'zod';\n");
      expect(violations(root)).toEqual([
        'src-main/app/bad.ts imports electron: only src-main/electron, src-preload may',
        'src-main/engine/train/bad.ts imports src-main/runs/run-store.ts: src-main/engine may import only src-main/common, src-shared',
        'src-main/engine/train/bad.ts imports src-main/training/x.ts: src-main/engine may import only src-main/common, src-shared',
        'src-renderer/src/views/bad.svelte imports src-main/runs/run-store.ts: src-renderer/src may import only src-shared',
        'src-shared/bad.ts imports node:fs: src-shared may import only zod',
      ]);
    });
  });

  it('catches an engine file that imports a higher or sibling engine tier, and a file directly in engine/', () => {
    inTree((root, put) => {
      put(
        'src-main/engine/layers/bad.ts',
        "import { Model } from '../model/model.ts';\nimport type { X } from '../onnx/graph-to-onnx.ts';\n",
      );
      put('src-main/engine/data/bad.ts', "import { loadBackend } from '../backend/load-backend.ts';\n");
      put('src-main/engine/stray.ts', "import { Rng } from './util/rng.ts';\n");
      // Allowed: a higher tier importing lower ones, a folder importing itself, a test reaching up.
      put(
        'src-main/engine/model/ok.ts',
        "import { layerOf } from '../layers/registry.ts';\nimport { Rng } from '../util/rng.ts';\nimport { m } from './other.ts';\n",
      );
      put('src-main/engine/layers/ok.test.ts', "import { Model } from '../model/model.ts';\n");
      expect(violations(root)).toEqual([
        'src-main/engine/data/bad.ts imports src-main/engine/backend/load-backend.ts: engine/data may import only engine/util, engine/testing, engine/ops',
        'src-main/engine/layers/bad.ts imports src-main/engine/model/model.ts: engine/layers may import only engine/util, engine/testing, engine/ops, engine/backend, engine/data',
        'src-main/engine/layers/bad.ts imports src-main/engine/onnx/graph-to-onnx.ts: engine/layers may import only engine/util, engine/testing, engine/ops, engine/backend, engine/data',
        'src-main/engine/stray.ts: engine files belong in one of its sub-folders (util, testing, ops, backend, data, layers, arch, model, onnx, train, backbones)',
      ]);
    });
  });

  it('finds circles: in a synthetic graph, and in a tree where every import keeps the layer rules', () => {
    const graph = new Map<string, string[]>([
      ['a/x.ts', ['./y.ts', '../b/z.ts']],
      ['a/y.ts', ['./w.ts']],
      ['a/w.ts', ['./x.ts', 'zod']],
      ['b/z.ts', []],
      ['c/p.ts', ['./q.ts']],
      ['c/q.ts', ['./p.ts']],
      ['d/self.ts', ['./self.ts']],
    ]);
    expect(circles(graph)).toEqual(['import circle: a/w.ts → a/x.ts → a/y.ts → a/w.ts', 'import circle: c/p.ts → c/q.ts → c/p.ts']);
    graph.set('a/w.ts', ['zod']);
    expect(circles(graph)).toEqual(['import circle: c/p.ts → c/q.ts → c/p.ts']);

    inTree((root, put) => {
      // Both inside one folder (always allowed by the layer rules); a type-only import still closes the circle.
      put('src-main/engine/train/learner.ts', "import { headParamNames } from './fine-tune.ts';\n");
      put('src-main/engine/train/fine-tune.ts', "import { load } from './checkpoint.ts';\n");
      put('src-main/engine/train/checkpoint.ts', "import type { Position } from './learner.ts';\n");
      put('src-main/training/a.ts', "export const b = () => import('./b.ts');\n");
      put('src-main/training/b.ts', "import { a } from './a.ts';\n");
      put('src-main/training/a.test.ts', "import { b } from './b.ts';\n");
      expect(violations(root)).toEqual([
        'import circle: src-main/engine/train/checkpoint.ts → src-main/engine/train/learner.ts → src-main/engine/train/fine-tune.ts → src-main/engine/train/checkpoint.ts',
        'import circle: src-main/training/a.ts → src-main/training/b.ts → src-main/training/a.ts',
      ]);
    });
  });
});
